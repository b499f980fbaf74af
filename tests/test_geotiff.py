"""GeoTIFF through a real rasterio (GDAL): every layout read exactly (dtypes, pixel / band
interleave, strips / tiles, compression, nodata, CRS + transform), labels from a GeoTIFF, lazy
windows equal to the in-memory sampler, label maps written on the input's grid, and
`explore info / train / predict --out map.tif` on Salinas-A written as a GeoTIFF.
Broken GeoTIFFs are in tests/test_hostile_inputs.py."""

from __future__ import annotations

import itertools
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from explore.cli import main
from explore.data.lazy import (
    WindowedCube,
    gather_pixels,
    label_map_file,
    read_halo_block,
    read_patches,
    tile_grid,
)
from explore.data.preprocess import SpectralPreprocessor
from explore.data.readers import list_arrays, read_scene, sniff_format
from explore.data.registry import load_dataset, load_scene
from explore.data.sampler import PatchSampler
from explore.data.scene import Georeference, Scene
from explore.errors import DataError, FileFormatError

rasterio = pytest.importorskip("rasterio")
from affine import Affine  # noqa: E402  (installed with rasterio)
from geotiff_files import GRID, UTM, write_geotiff  # noqa: E402  (tests/ is on sys.path)


def _grid_of(path: Path) -> tuple[object, Affine]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as dataset:
            return dataset.crs, dataset.transform


def _cube(seed: int, shape: tuple[int, int, int], dtype: str) -> np.ndarray:
    values = np.random.default_rng(seed).random(shape) * 2000 - (1000 if dtype != "uint16" else 0)
    return values.astype(dtype)


# ------------------------------------------------------------------------------ layouts
LAYOUTS = list(
    itertools.product(
        ["float32", "uint16", "int16"], ["pixel", "band"], [False, True], [None, "deflate", "lzw"]
    )
)


@pytest.mark.parametrize(("dtype", "interleave", "tiled", "compress"), LAYOUTS)
def test_every_layout_reads_exactly(
    dtype: str, interleave: str, tiled: bool, compress: str | None, tmp_path: Path
) -> None:
    """37 x 29 x 5 (ragged 16 px tiles): eager, through load_dataset, and by windows."""
    cube = _cube(len(str(tmp_path)), (37, 29, 5), dtype)
    path = write_geotiff(
        tmp_path / "c.tif", cube, dtype, interleave=interleave, tiled=tiled, compress=compress
    )
    assert sniff_format(path) == "tiff"
    assert list_arrays(path) == {"cube": ((37, 29, 5), dtype)}
    scene = read_scene(path)
    assert not scene.is_lazy and scene.labels is None and scene.name == "c"
    np.testing.assert_array_equal(scene.cube, cube)
    assert scene.georeference == Georeference(scene.georeference.crs, tuple(GRID)[:6])
    assert "UTM zone 33N" in scene.georeference.crs
    np.testing.assert_array_equal(load_dataset(path).cube, cube)
    lazy = read_scene(path, lazy=True)
    assert isinstance(lazy.cube, WindowedCube) and lazy.georeference == scene.georeference
    np.testing.assert_array_equal(np.asarray(lazy.cube), cube)
    np.testing.assert_array_equal(
        read_halo_block(lazy.cube, slice(5, 21), slice(13, 29), 0), cube[5:21, 13:29]
    )


def test_other_sample_types_bigtiff_and_nodata(tmp_path: Path) -> None:
    cube = _cube(1, (6, 7, 3), "float32")
    for dtype in ("uint8", "int8", "uint32", "int32", "float64", "int64"):
        path = write_geotiff(tmp_path / f"{dtype}.tif", np.abs(cube), dtype)
        np.testing.assert_array_equal(read_scene(path).cube, np.abs(cube).astype(dtype))
    big = tmp_path / "big.tif"
    profile = {"driver": "GTiff", "height": 6, "width": 7, "count": 3, "dtype": "float32"}
    with rasterio.open(big, "w", **profile, crs=UTM, transform=GRID, BIGTIFF="YES") as dataset:
        dataset.write(np.moveaxis(cube, -1, 0))
    assert big.read_bytes()[:4] == b"II+\x00"
    np.testing.assert_array_equal(read_scene(big).cube, cube)
    # nodata is not applied: the values are read as stored (see _TiffSource)
    edged = cube.copy()
    edged[0] = -9999.0
    scene = read_scene(write_geotiff(tmp_path / "nd.tif", edged, nodata=-9999.0))
    np.testing.assert_array_equal(scene.cube, edged)
    with pytest.raises(DataError, match=r"nan\.tif.*NaN"):
        read_scene(write_geotiff(tmp_path / "nan.tif", np.where(edged < -9000, np.nan, edged)))


def test_a_tiff_without_georeference_reads_without_warnings(tmp_path: Path) -> None:
    cube = _cube(2, (5, 4, 2), "float32")
    path = write_geotiff(tmp_path / "plain.tif", cube, georeferenced=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene = read_scene(path)
        assert scene.georeference is None
        with label_map_file(tmp_path / "map.tif", (5, 4), like=scene) as out:
            out[:] = 1
    crs, transform = _grid_of(tmp_path / "map.tif")
    assert crs is None and transform.is_identity


# ------------------------------------------------------------------------------ labels
def test_labels_from_a_geotiff_and_one_band_cubes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    cube = _cube(3, (9, 8, 4), "float32")
    labels = rng.integers(0, 4, (9, 8)).astype(np.uint8)
    cube_path = write_geotiff(tmp_path / "c.tif", cube)
    for dtype in ("uint8", "int16", "float32"):  # whole-number floats are labels too
        labels_path = write_geotiff(tmp_path / f"gt_{dtype}.tif", labels[:, :, None], dtype)
        scene = read_scene(cube_path, labels_path=labels_path)
        np.testing.assert_array_equal(scene.labels > 0, labels > 0)
        assert scene.label_values == tuple(int(v) for v in np.unique(labels) if v)
    # A 1-band integer TIFF read as a scene is a 1-band cube, not its own labels.
    one_band = read_scene(tmp_path / "gt_uint8.tif")
    assert one_band.shape == (9, 8, 1) and one_band.labels is None
    with pytest.raises(DataError, match=r"gt_small\.tif.*have shape \(4, 8\)"):
        read_scene(
            cube_path,
            labels_path=write_geotiff(tmp_path / "gt_small.tif", labels[:4, :, None], "uint8"),
        )
    with pytest.raises(FileFormatError, match=r"c\.tif holds 0 2-D arrays"):
        read_scene(cube_path, labels_path=cube_path)  # 4 bands: not a label map


# ------------------------------------------------------------------------------ lazy windows
@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros"])
@pytest.mark.parametrize("layout", ["striped", "tiled"])
def test_windows_of_a_real_file_equal_the_in_memory_sampler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, layout: str
) -> None:
    raw = _cube(4, (21, 18, 6), "float32")
    path = write_geotiff(
        tmp_path / "raw.tif", raw, interleave="band", tiled=layout == "tiled", compress="deflate"
    )
    monkeypatch.setenv("EXPLORE_LAZY_BYTES", "1000")  # so read_scene returns windows
    lazy = read_scene(path)
    assert isinstance(lazy.cube, WindowedCube)
    preprocessor = SpectralPreprocessor(3).fit(Scene(raw))
    transform = preprocessor.transform_pixels
    expected = PatchSampler(preprocessor.transform(Scene(raw)).cube, 5, padding_mode=mode)
    for rows, cols in tile_grid(21, 18, 8):
        block = read_halo_block(lazy.cube, rows, cols, 2, mode=mode, transform=transform)
        local_rows, local_cols = np.meshgrid(
            np.arange(rows.stop - rows.start), np.arange(cols.stop - cols.start), indexing="ij"
        )
        got = PatchSampler(block, 5, padded=True).patches_at(local_rows.ravel(), local_cols.ravel())
        want = expected.patches_at(
            (local_rows + rows.start).ravel(), (local_cols + cols.start).ravel()
        )
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    pixel_rows, pixel_cols = np.array([0, 20, 9, 0, 20]), np.array([0, 17, 8, 17, 0])
    patches = read_patches(lazy.cube, pixel_rows, pixel_cols, 5, mode=mode, transform=transform)
    want = expected.patches_at(pixel_rows, pixel_cols).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(patches, want)
    indices = np.array([377, 0, 57, 3, 57])
    np.testing.assert_array_equal(gather_pixels(lazy.cube, indices), raw.reshape(-1, 6)[indices])
    crop = lazy.crop(slice(3, 11), slice(2, 9))
    assert isinstance(crop.cube, WindowedCube)
    np.testing.assert_array_equal(np.asarray(crop.cube), raw[3:11, 2:9])


def test_windows_are_read_from_several_threads(tmp_path: Path) -> None:
    raw = _cube(5, (40, 30, 3), "float32")
    cube = read_scene(write_geotiff(tmp_path / "t.tif", raw, tiled=True), lazy=True).cube
    failures: list[BaseException] = []

    def read_rows(start: int) -> None:
        try:
            for top in range(start, 40, 4):
                np.testing.assert_array_equal(
                    cube.read(slice(top, top + 1), slice(None)), raw[top : top + 1]
                )
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=read_rows, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_a_nan_met_in_a_window_names_the_file(tmp_path: Path) -> None:
    raw = _cube(6, (10, 10, 2), "float32")
    raw[7, 3, 1] = np.nan
    scene = read_scene(write_geotiff(tmp_path / "hole.tif", raw), lazy=True)  # no scan up front
    with pytest.raises(DataError, match=r"hole\.tif.*row 7, column 3, band 1"):
        read_halo_block(scene.cube, slice(5, 10), slice(0, 5), 1)
    with pytest.raises(DataError, match=r"hole\.tif.*row 7, column 3"):
        scene.sample_pixels(100)


# ------------------------------------------------------------------------------ label maps
@pytest.mark.parametrize("lazy", [False, True])
def test_label_maps_are_written_on_the_input_grid(tmp_path: Path, lazy: bool) -> None:
    path = write_geotiff(tmp_path / "c.tif", _cube(7, (12, 10, 3), "float32"))
    scene = read_scene(path, lazy=lazy)
    assert scene.is_lazy == lazy
    with label_map_file(tmp_path / "map.tif", (12, 10), like=scene) as out:
        out[:] = np.arange(120).reshape(12, 10)
    assert _grid_of(tmp_path / "map.tif") == _grid_of(path)
    with rasterio.open(tmp_path / "map.tif") as dataset:
        assert dataset.dtypes == ("int16",) and dataset.count == 1
        np.testing.assert_array_equal(dataset.read(1), np.arange(120).reshape(12, 10))
    crop = scene.crop(slice(2, 8), slice(3, 10))
    with label_map_file(tmp_path / "crop.TIFF", (6, 7), like=crop) as out:
        out[:] = 2
    crs, transform = _grid_of(tmp_path / "crop.TIFF")
    assert crs == _grid_of(path)[0]
    assert transform == GRID @ Affine.translation(3, 2)  # the crop's first pixel
    if lazy:  # a scene built by hand around a window of the file: the cube's profile serves
        by_hand = Scene(scene.cube[2:8, 3:10])
        assert by_hand.georeference is None
        with label_map_file(tmp_path / "hand.tif", (6, 7), like=by_hand) as out:
            out[:] = 2
        assert _grid_of(tmp_path / "hand.tif") == (crs, transform)
        (tmp_path / "hand.tif").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif", "crop.TIFF", "map.tif"]


def test_georeferences_are_checked_and_follow_crops() -> None:
    grid = Georeference('LOCAL_CS["x"]', (2.0, 0.0, 10.0, 0.0, -2.0, 50.0))
    scene = Scene(np.ones((6, 5, 2), np.float32), georeference=grid)
    assert scene.crop(slice(1, 4), slice(2, None)).georeference.transform == (
        2.0,
        0.0,
        14.0,
        0.0,
        -2.0,
        48.0,
    )
    assert scene.crop(slice(0, 6, 2), slice(None)).georeference is None  # pixel size changes
    assert scene.standardize().georeference == grid
    with pytest.raises(DataError, match="6 finite"):
        Georeference(None, (1.0, 0.0, float("nan"), 0.0, 1.0, 0.0))
    with pytest.raises(DataError, match="must be a Georeference"):
        Scene(np.ones((2, 2, 1), np.float32), georeference=(1, 0, 0, 0, 1, 0))


# ------------------------------------------------------------------------------ CLI, end to end
@pytest.fixture(scope="module")
def salinas_tif(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Scene]:
    """Salinas-A (83 x 86 x 204, from the shared .mat) written as a GeoTIFF (int16, band
    interleaved, tiled, deflate) and its ground truth as a 1-band GeoTIFF."""
    scene = load_scene("salinas_a", download=False)
    folder = tmp_path_factory.mktemp("geotiff")
    assert np.array_equal(scene.cube, np.round(scene.cube))  # whole numbers: int16 is exact
    cube_path = write_geotiff(
        folder / "salinas_a.tif",
        scene.cube,
        "int16",
        interleave="band",
        tiled=True,
        compress="deflate",
    )
    labels_path = write_geotiff(folder / "salinas_a_gt.tif", scene.labels[:, :, None], "uint8")
    return cube_path, labels_path, scene


@pytest.mark.datasets("salinas_a")
def test_salinas_a_as_a_geotiff_reads_like_the_mat_file(
    salinas_tif: tuple[Path, Path, Scene], capsys: pytest.CaptureFixture[str]
) -> None:
    cube_path, labels_path, original = salinas_tif
    scene = read_scene(cube_path, labels_path=labels_path)
    np.testing.assert_array_equal(scene.cube, original.cube)
    np.testing.assert_array_equal(scene.labels, original.labels)
    assert main(["info", str(cube_path)]) == 0
    printed = capsys.readouterr()
    assert "tiff" in printed.out and "83 x 86 px, 204 bands" in printed.out
    assert "WGS 84 / UTM zone 33N" in printed.out and printed.err == ""


@pytest.mark.datasets("salinas_a")
def test_train_and_predict_a_geotiff_from_the_cli(
    salinas_tif: tuple[Path, Path, Scene],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cube_path, _, _ = salinas_tif
    run = tmp_path / "run"
    train = ["train", "--method", "sscc", "--dataset", str(cube_path), "--clusters", "6"]
    options = ["--epochs", "1", "--samples-per-epoch", "256", "--device", "cpu"]
    assert main([*train, *options, "--out", str(run)]) == 0
    labels = np.load(run / "labels.npy")
    assert labels.shape == (83, 86)

    in_memory = tmp_path / "maps" / "salinas_a.tif"
    predict = ["predict", "--run", str(run), "--dataset", str(cube_path), "--device", "cpu"]
    assert main([*predict, "--out", str(in_memory)]) == 0
    monkeypatch.setenv("EXPLORE_LAZY_BYTES", "0")  # read by windows, predicted tile by tile
    lazy = tmp_path / "maps" / "salinas_a_lazy.tif"
    assert main([*predict, "--out", str(lazy)]) == 0
    for written in (in_memory, lazy):
        with rasterio.open(written) as dataset:
            np.testing.assert_array_equal(dataset.read(1), labels)
        assert _grid_of(written) == _grid_of(cube_path)
    assert main([*predict, "--out", str(lazy)]) == 2  # never overwritten without --overwrite
    assert sorted(p.name for p in in_memory.parent.iterdir()) == [
        "salinas_a.tif",
        "salinas_a_lazy.tif",
    ]
    assert "Warning" not in capsys.readouterr().err
