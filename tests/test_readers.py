"""Readers on the real benchmark files (shapes, class counts, orientation) and on broken ones."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from shared_data import dataset_path

from explore.data.readers import (
    list_arrays,
    read_array,
    read_scene,
    read_unmixing,
    sniff_format,
)
from explore.errors import DataError, FileFormatError

INDIAN_PINES_COUNTS = [46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386]
INDIAN_PINES_COUNTS += [93]
SALINAS_COUNTS = [2009, 3726, 1976, 1394, 2678, 3959, 3579, 11271, 6203, 3278, 1068, 1927, 916]
SALINAS_COUNTS += [1070, 7268, 1807]
KSC_COUNTS = [761, 243, 256, 252, 161, 229, 105, 431, 520, 404, 419, 503, 927]
PAVIA_U_COUNTS = [6631, 18649, 2099, 3064, 1345, 5029, 1330, 3682, 947]
SAMSON_COUNTS = {1: 3015, 2: 3666, 3: 2344}


@pytest.fixture(scope="module")
def hsi(data_dir: Path) -> Path:
    return data_dir / "hsi"


def _counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels.ravel().astype(np.int64))[1:].tolist()


def _half_copy(source: Path, target: Path) -> Path:
    content = source.read_bytes()
    target.write_bytes(content[: len(content) // 2])
    return target


# ------------------------------------------------------------------------------ real files
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("indian_pines/Indian_pines_corrected.npy", "npy"),
        ("indian_pines/Indian_pines_gt.mat", "mat5"),
        ("samson/samson_dataset.mat", "mat5"),
        ("gt_only/Salinas_gt_v73.mat", "mat73"),
        ("gt_only/KSC_gt_v73.mat", "mat73"),
    ],
)
def test_sniff_format_of_real_files(hsi: Path, relative: str, expected: str) -> None:
    assert sniff_format(hsi / relative) == expected


def test_indian_pines_npy_cube_with_mat_labels(hsi: Path) -> None:
    folder = hsi / "indian_pines"
    scene = read_scene(
        folder / "Indian_pines_corrected.npy", labels_path=folder / "Indian_pines_gt.mat"
    )
    assert scene.shape == (145, 145, 200)
    assert scene.name == "Indian_pines_corrected"
    assert list(scene.class_counts().values()) == INDIAN_PINES_COUNTS
    assert scene.cube.min() == 955 and scene.cube.max() == 9604
    from_npy = read_array(folder / "Indian_pines_gt.npy")
    from_mat = read_array(folder / "Indian_pines_gt.mat")
    assert from_mat.shape == (145, 145)
    np.testing.assert_array_equal(from_npy, from_mat)


def test_npy_memory_map() -> None:
    cube = read_array(dataset_path("indian_pines"), mmap=True)  # the .npy copy (tensorly's)
    assert isinstance(cube, np.memmap)
    assert cube.shape == (145, 145, 200) and cube.dtype == np.uint16


def test_salinas_a_labels_remapped_and_orientation(hsi: Path) -> None:
    folder = hsi / "salinas_a"
    scene = read_scene(folder / "SalinasA_corrected.mat", labels_path=folder / "SalinasA_gt.mat")
    assert scene.shape == (83, 86, 204)
    assert scene.label_values == (1, 10, 11, 12, 13, 14)
    assert list(scene.class_counts().values()) == [391, 1343, 616, 1525, 674, 799]
    assert int(scene.labelled_mask.sum()) == 5348

    raw = read_array(folder / "SalinasA.mat")
    assert raw.shape == (83, 86, 224)
    dropped = {*range(108, 113), *range(154, 168), 224}  # 1-based, from the data README
    keep = [band - 1 for band in range(1, 225) if band not in dropped]
    np.testing.assert_array_equal(raw[:, :, keep], read_array(folder / "SalinasA_corrected.mat"))


def test_labels_found_in_the_cube_file(tmp_path: Path) -> None:
    cube = read_array(dataset_path("salinas_a"))
    labels = read_array(dataset_path("salinas_a", "labels"))
    path = tmp_path / "salinas_a_both.mat"
    scipy.io.savemat(path, {"cube": cube, "gt": labels, "mean": cube.mean(axis=2)})
    scene = read_scene(path)  # "mean" is 83 x 86 too, but not integer: not taken as labels
    assert scene.label_values == (1, 10, 11, 12, 13, 14)
    np.testing.assert_array_equal(scene.cube, cube)


def test_samson_unmixing_layout() -> None:
    path = dataset_path("samson")
    names = ("rock/soil", "tree", "water")
    scene = read_scene(path, class_names=names)
    direct = read_unmixing(path, class_names=names)
    assert scene.shape == direct.shape == (95, 95, 156)
    assert scene.class_counts() == direct.class_counts() == SAMSON_COUNTS
    assert scene.class_names == names
    np.testing.assert_array_equal(scene.cube, direct.cube)
    spectra = read_array(path, "Y")
    expected = spectra.T.reshape(95, 95, 156, order="F")
    np.testing.assert_array_equal(scene.cube, expected)
    # column-major pixels: pixel index row + 95 * column
    np.testing.assert_array_equal(scene.cube[7, 3], spectra[:, 7 + 95 * 3])


def test_samson_list_arrays() -> None:
    arrays = list_arrays(dataset_path("samson"))
    assert arrays == {
        "A": ((3, 9025), "float64"),
        "M": ((156, 3), "float64"),
        "M1": ((156, 3), "float64"),
        "Y": ((156, 9025), "float64"),
    }


def test_unmixing_with_separate_abundances_and_image_size(tmp_path: Path) -> None:
    source = dataset_path("samson")
    spectra, abundances = read_array(source, "Y"), read_array(source, "A")
    # a 95 x 95 image given as nRow = 95, nCol = 95 with values scaled up by maxValue
    image = tmp_path / "samson_image.mat"
    scipy.io.savemat(image, {"Y": spectra * 4095.0, "nRow": 95.0, "nCol": 95.0, "maxValue": 4095})
    truth = tmp_path / "samson_end3.mat"
    scipy.io.savemat(truth, {"A": abundances, "M": read_array(source, "M")})
    scene = read_scene(image, labels_path=truth)
    assert scene.class_counts() == SAMSON_COUNTS
    np.testing.assert_allclose(scene.cube, read_unmixing(source).cube, rtol=1e-12)
    assert read_unmixing(image).labels is None

    # a non-square image: 5 rows x 3 columns, pixels column-major
    rectangle = tmp_path / "rectangle.mat"
    y = np.arange(2 * 15, dtype=float).reshape(2, 15)
    one_hot = np.eye(3)[:, np.arange(15) % 3]
    scipy.io.savemat(rectangle, {"Y": y, "A": one_hot, "nRow": 5, "nCol": 3})
    scene = read_unmixing(rectangle)
    assert scene.shape == (5, 3, 2)
    np.testing.assert_array_equal(scene.cube[4, 2], y[:, 4 + 5 * 2])
    assert scene.labels[4, 2] == (4 + 5 * 2) % 3 + 1


def test_unmixing_without_size_needs_a_square(tmp_path: Path) -> None:
    path = tmp_path / "odd.mat"
    scipy.io.savemat(path, {"Y": np.ones((4, 10)), "A": np.ones((2, 10))})
    with pytest.raises(FileFormatError, match=r"10 pixels, not a perfect square.*nRow/nCol"):
        read_scene(path)


def test_v73_ground_truth_transposed(hsi: Path) -> None:
    salinas = hsi / "gt_only" / "Salinas_gt_v73.mat"
    assert list_arrays(salinas) == {"gt": ((512, 217), "uint8")}
    labels = read_array(salinas)
    assert labels.shape == (512, 217)
    assert _counts(labels) == SALINAS_COUNTS
    ksc = read_array(hsi / "gt_only" / "KSC_gt_v73.mat", "gt")
    assert ksc.shape == (512, 614)
    assert _counts(ksc) == KSC_COUNTS
    pavia = read_array(hsi / "gt_only" / "PaviaU_gt.mat")
    assert pavia.shape == (610, 340)
    assert _counts(pavia) == PAVIA_U_COUNTS


def _write_matlab_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A file laid out as MATLAB v7.3 writes it: 512-byte text header, then HDF5 with every
    array stored with reversed axes and a MATLAB_class attribute."""
    classes = {np.dtype("float64"): "double", np.dtype("uint8"): "uint8"}
    with h5py.File(path, "w", userblock_size=512) as file:
        for key, array in arrays.items():
            dataset = file.create_dataset(key, data=np.ascontiguousarray(array.T))
            dataset.attrs["MATLAB_class"] = np.bytes_(classes[array.dtype])
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    header = header.ljust(124, b" ") + b"\x00\x02IM"
    with path.open("r+b") as stream:
        stream.write(header)


def test_v73_cube_transposed_back(tmp_path: Path) -> None:
    path = tmp_path / "scene_v73.mat"
    cube = np.arange(4 * 5 * 3, dtype=np.float64).reshape(4, 5, 3)
    labels = (np.arange(20).reshape(4, 5) % 3).astype(np.uint8)
    _write_matlab_v73(path, {"cube": cube, "gt": labels})
    assert sniff_format(path) == "mat73"
    assert list_arrays(path) == {"cube": ((4, 5, 3), "float64"), "gt": ((4, 5), "uint8")}
    scene = read_scene(path)
    np.testing.assert_array_equal(scene.cube, cube)
    np.testing.assert_array_equal(scene.labels, labels)


# ------------------------------------------------------------------------------ npz, ENVI, TIFF
def test_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cube = rng.random((6, 7, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=(6, 7)).astype(np.int16)
    path = tmp_path / "scene.npz"
    np.savez_compressed(path, cube=cube, gt=labels, wavelengths=np.arange(4.0))
    assert sniff_format(path) == "npz"
    assert list_arrays(path) == {
        "cube": ((6, 7, 4), "float32"),
        "gt": ((6, 7), "int16"),
        "wavelengths": ((4,), "float64"),
    }
    scene = read_scene(path, name="tiny", wavelengths=read_array(path, "wavelengths"))
    assert scene.name == "tiny"
    np.testing.assert_array_equal(scene.cube, cube)
    np.testing.assert_array_equal(scene.labels > 0, labels > 0)
    np.testing.assert_array_equal(read_array(path, "gt"), labels)


def test_envi_round_trip_with_wavelengths(tmp_path: Path) -> None:
    from spectral.io import envi

    cube = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 7 - 20).astype(np.int16)
    header = tmp_path / "tiny.hdr"
    metadata = {
        "wavelength": [0.45, 0.55, 0.65],
        "wavelength units": "Micrometers",
        "default bands": [3, 2, 1],
    }
    envi.save_image(str(header), cube, metadata=metadata, interleave="bsq", ext=".img")
    data = tmp_path / "tiny.img"
    assert sniff_format(header) == sniff_format(data) == "envi"
    assert list_arrays(header) == {"cube": ((4, 5, 3), "int16")}
    for path in (header, data):  # either file of the pair names the image
        scene = read_scene(path)
        assert scene.name == "tiny"
        np.testing.assert_array_equal(scene.cube, cube)
        np.testing.assert_allclose(scene.wavelengths, [450.0, 550.0, 650.0])
        assert scene.rgb_bands == (2, 1, 0)  # ENVI's 1-based default bands
    np.testing.assert_array_equal(read_array(header, mmap=True), cube)


def test_envi_declared_size_must_match_data_file(tmp_path: Path) -> None:
    header = tmp_path / "huge.hdr"
    header.write_text(
        "ENVI\nsamples = 100000\nlines = 100000\nbands = 200\nheader offset = 0\n"
        "file type = ENVI Standard\ndata type = 2\ninterleave = bsq\nbyte order = 0\n"
    )
    (tmp_path / "huge.img").write_bytes(b"\x00" * 64)
    with pytest.raises(FileFormatError) as caught:
        read_scene(header)
    message = str(caught.value)
    assert str(100000 * 100000 * 200 * 2) in message and "64 bytes" in message
    assert "huge.img" in message


def test_envi_header_without_data_file(tmp_path: Path) -> None:
    header = tmp_path / "lonely.hdr"
    header.write_text("ENVI\nsamples = 2\nlines = 2\nbands = 1\ndata type = 1\n")
    with pytest.raises(FileFormatError, match="no data file next to it"):
        read_array(header)


def test_tiff_without_rasterio_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scene.tif"
    path.write_bytes(b"II*\x00" + b"\x00" * 60)
    assert sniff_format(path) == "tiff"
    monkeypatch.setitem(sys.modules, "rasterio", None)  # import now fails as if not installed
    with pytest.raises(FileFormatError, match=r"pip install explore\[geotiff\]"):
        read_scene(path)


# ------------------------------------------------------------------------------ broken inputs
def test_truncated_mat_v5(tmp_path: Path) -> None:
    path = _half_copy(dataset_path("salinas_a"), tmp_path / "half.mat")
    for call in (read_scene, read_array, list_arrays):
        with pytest.raises(FileFormatError, match=r"half\.mat is truncated"):
            call(path)


def test_truncated_mat_v73(tmp_path: Path, hsi: Path) -> None:
    path = _half_copy(hsi / "gt_only" / "Salinas_gt_v73.mat", tmp_path / "half_v73.mat")
    with pytest.raises(FileFormatError, match=r"half_v73\.mat.*v7\.3") as caught:
        read_array(path)
    assert isinstance(caught.value.__cause__, OSError)  # h5py's error kept as the cause


def test_truncated_npy(tmp_path: Path) -> None:
    path = _half_copy(dataset_path("indian_pines"), tmp_path / "half.npy")
    with pytest.raises(FileFormatError, match=r"\(145, 145, 200\).*8410000 bytes.*truncated"):
        read_scene(path)


def test_truncated_npz(tmp_path: Path) -> None:
    whole = tmp_path / "whole.npz"
    np.savez(whole, cube=np.zeros((8, 8, 8)))
    path = _half_copy(whole, tmp_path / "half.npz")
    with pytest.raises(FileFormatError, match=r"half\.npz") as caught:
        read_array(path)
    assert caught.value.__cause__ is not None


def test_text_file_named_mat(tmp_path: Path) -> None:
    path = tmp_path / "notes.mat"
    path.write_text("these are notes, not a matrix\n")
    with pytest.raises(FileFormatError, match=r"notes\.mat.*starts with text 'these are notes"):
        sniff_format(path)
    with pytest.raises(FileFormatError, match="cannot tell the format"):
        read_scene(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.npy"
    path.write_bytes(b"")
    with pytest.raises(FileFormatError, match=r"empty\.npy.*empty \(0 bytes\)"):
        read_array(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.mat"
    with pytest.raises(FileNotFoundError, match="absent.mat"):
        read_scene(path)


def test_missing_key_names_the_keys_found(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, cube=np.zeros((2, 2, 3)), gt=np.ones((2, 2), dtype=np.uint8))
    with pytest.raises(FileFormatError, match=r"no array 'labels'.*'cube' \(2, 2, 3\).*'gt'"):
        read_array(path, "labels")
    with pytest.raises(FileFormatError, match=r"no array 'labels'"):
        read_scene(path, labels_key="labels")
    with pytest.raises(FileFormatError, match=r"2 numeric arrays, pass key="):
        read_array(path)


def test_several_cubes_are_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "two_cubes.npz"
    np.savez(path, raw=np.zeros((2, 2, 5)), corrected=np.zeros((2, 2, 4)))
    with pytest.raises(FileFormatError, match=r"ambiguous.*cube_key.*'raw'.*'corrected'"):
        read_scene(path)
    assert read_scene(path, cube_key="corrected").shape == (2, 2, 4)


def test_labels_of_another_scene(hsi: Path) -> None:
    with pytest.raises(DataError, match=r"\(512, 217\).*145 x 145.*another scene"):
        read_scene(
            hsi / "indian_pines" / "Indian_pines_corrected.npy",
            labels_path=hsi / "gt_only" / "Salinas_gt_v73.mat",
        )


def test_object_array_npy_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert list_arrays(path) == {}
    with pytest.raises(FileFormatError, match="object array.*pickle"):
        read_array(path)
    with pytest.raises(FileFormatError, match="object array"):
        read_scene(path)
