"""ImageSet and its readers, on the real benchmark files and on broken or hostile ones."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_data import dataset_path

from explore.data.images import (
    ImageSet,
    load_digits_imageset,
    read_cifar_batch,
    read_idx,
    read_image_folder,
    read_npz_images,
)
from explore.errors import DataError, DatasetNotFoundError, FileFormatError

MNIST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _small_set(n_per_class: int = 4, channels: int = 3) -> ImageSet:
    rng = np.random.default_rng(0)
    images = rng.random((3 * n_per_class, channels, 5, 6), dtype=np.float32)
    labels = np.repeat(np.arange(3), n_per_class)
    return ImageSet(images, labels, ("a", "b", "c"), name="small")


# ---------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def mnist() -> ImageSet:
    return read_idx(dataset_path("mnist_test", "images"), dataset_path("mnist_test", "labels"))


def test_mnist_idx_real(mnist: ImageSet) -> None:
    assert mnist.images.shape == (10000, 1, 28, 28)
    assert mnist.images.dtype == np.float32
    assert list(mnist.class_counts().values()) == MNIST_COUNTS
    assert mnist.class_names == tuple(str(c) for c in range(10))
    assert mnist.images.min() == 0.0 and mnist.images.max() == 1.0
    # The first test digit of MNIST is a 7.
    assert mnist.labels[0] == 7


def test_cifar_folder_real(data_dir: Path) -> None:
    images = read_image_folder(data_dir / "natural" / "cifar10_test_subset")
    assert images.images.shape == (1000, 3, 32, 32)
    assert images.class_names == CIFAR10_NAMES
    assert images.class_names == tuple(sorted(images.class_names))
    assert set(images.class_counts().values()) == {100}
    assert images.name == "cifar10_test_subset"
    # Files are read in sorted order, class by class.
    assert (np.diff(images.labels) >= 0).all()
    first = np.asarray(Image.open(data_dir / "natural/cifar10_test_subset/airplane/0000.jpg"))
    np.testing.assert_allclose(images.images[0], first.transpose(2, 0, 1) / 255.0, atol=1e-6)


def test_rsscn7_folder_real_resized(data_dir: Path) -> None:
    images = read_image_folder(data_dir / "remote_sensing" / "rsscn7_subset", size=(64, 64))
    assert images.images.shape == (350, 3, 64, 64)
    assert images.n_classes == 7
    assert images.class_names[0] == "aGrass" and images.class_names[-1] == "gParking"
    assert list(images.class_counts().values()) == [50] * 7
    assert images.images.min() >= 0.0 and images.images.max() <= 1.0


def test_max_per_class_reads_first_files(data_dir: Path) -> None:
    images = read_image_folder(data_dir / "natural" / "cifar10_test_subset", max_per_class=3)
    assert images.n_images == 30
    assert list(images.class_counts().values()) == [3] * 10


def test_digits() -> None:
    digits = load_digits_imageset()
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.class_names == tuple(str(c) for c in range(10))
    assert digits.images.max() == 1.0 and digits.images.min() == 0.0
    assert sum(digits.class_counts().values()) == 1797


# ---------------------------------------------------------------------------------- ImageSet
@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((2, 3, 4), np.float32), None, "4 axes"),
        (np.zeros((0, 1, 4, 4), np.float32), None, "at least one"),
        (np.zeros((2, 2, 4, 4), np.float32), None, "channels"),
        (np.zeros((2, 4, 4, 3), np.float32), None, "channels"),
        (np.zeros((2, 1, 4, 4), np.uint8), None, "divide uint8"),
        (np.full((2, 1, 4, 4), np.nan, np.float32), None, "non-finite"),
        (np.full((2, 1, 4, 4), 1.5, np.float32), None, r"\[0, 1\]"),
        (np.zeros((2, 1, 4, 4), np.float32), np.array([0, 1, 2]), "one per image"),
        (np.zeros((2, 1, 4, 4), np.float32), np.array([0, -2]), "labels must lie"),
        (np.zeros((2, 1, 4, 4), np.float32), np.array([0.0, 1.0]), "integers"),
    ],
)
def test_imageset_validation(images: np.ndarray, labels, message: str) -> None:
    with pytest.raises(DataError, match=message):
        ImageSet(images, labels)


def test_imageset_labels_must_fit_class_names() -> None:
    with pytest.raises(DataError, match=r"\[-1, 2\)"):
        ImageSet(np.zeros((2, 1, 3, 3), np.float32), np.array([0, 2]), ("a", "b"))
    with pytest.raises(DataError, match="unique"):
        ImageSet(np.zeros((2, 1, 3, 3), np.float32), np.array([0, 1]), ("a", "a"))


def test_imageset_tolerates_rounding_and_defaults_names() -> None:
    images = np.full((2, 1, 3, 3), 1.0 + 1e-7, np.float32)
    images[1] = -1e-7
    image_set = ImageSet(images.astype(np.float64), np.array([2, -1]))
    assert image_set.images.dtype == np.float32
    assert image_set.images.max() == 1.0 and image_set.images.min() == 0.0
    assert image_set.class_names == ("0", "1", "2")
    assert image_set.class_counts() == {0: 0, 1: 0, 2: 1}
    assert "2 images of 1 x 3 x 3" in repr(image_set) and "1 labelled" in repr(image_set)


def test_subset_and_mask() -> None:
    image_set = _small_set()
    picked = image_set.subset([5, 0])
    assert picked.n_images == 2
    np.testing.assert_array_equal(picked.images[0], image_set.images[5])
    assert picked.labels.tolist() == [1, 0]
    assert picked.class_names == image_set.class_names
    masked = image_set.subset(image_set.labels == 2)
    assert masked.labels.tolist() == [2] * 4
    with pytest.raises(DataError, match="out of range"):
        image_set.subset([12])
    with pytest.raises(DataError, match="empty"):
        image_set.subset([])


def test_per_class_first_and_random() -> None:
    image_set = _small_set(n_per_class=6)
    first = image_set.per_class(2)
    assert first.labels.tolist() == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(first.images[2], image_set.images[6])
    drawn = image_set.per_class(2, seed=3)
    again = image_set.per_class(2, seed=3)
    np.testing.assert_array_equal(drawn.images, again.images)
    assert list(drawn.class_counts().values()) == [2, 2, 2]
    other = image_set.per_class(2, seed=4)
    assert not np.array_equal(drawn.images, other.images)
    assert image_set.per_class(100).n_images == 18
    with pytest.raises(DataError, match="no labels"):
        ImageSet(image_set.images).per_class(1)


def test_resize_shapes_and_values() -> None:
    image_set = _small_set()
    resized = image_set.resize(10, 3)
    assert resized.image_shape == (3, 10, 3)
    assert resized.images.min() >= 0.0 and resized.images.max() <= 1.0
    constant = ImageSet(np.full((2, 1, 9, 9), 0.25, np.float32)).resize(4, 4)
    np.testing.assert_allclose(constant.images, 0.25, atol=1e-6)
    # Antialiased downscaling by 2 of a checkerboard averages to grey, without aliasing.
    board = (np.indices((8, 8)).sum(axis=0) % 2).astype(np.float32)
    halved = ImageSet(board[None, None]).resize(4, 4)
    np.testing.assert_allclose(halved.images, 0.5, atol=0.1)
    assert image_set.resize(5, 6) is image_set
    with pytest.raises(DataError, match="at least 1 x 1"):
        image_set.resize(0, 4)


def test_grayscale_and_rgb() -> None:
    red = np.zeros((1, 3, 2, 2), np.float32)
    red[:, 0] = 1.0
    gray = ImageSet(red).to_grayscale()
    assert gray.image_shape == (1, 2, 2)
    np.testing.assert_allclose(gray.images, 0.299, atol=1e-6)
    rgb = gray.to_rgb()
    assert rgb.image_shape == (3, 2, 2)
    np.testing.assert_array_equal(rgb.images[:, 0], rgb.images[:, 2])
    assert rgb.to_rgb() is rgb and gray.to_grayscale() is gray


# ---------------------------------------------------------------------------------- IDX
def _mnist_bytes(role: str) -> bytes:
    return gzip.decompress(dataset_path("mnist_test", role).read_bytes())


def test_idx_uncompressed_matches_gzipped(tmp_path: Path, mnist) -> None:
    raw_images = tmp_path / "images.idx"
    raw_images.write_bytes(_mnist_bytes("images"))
    plain = read_idx(raw_images, name="plain")
    assert plain.labels is None and plain.name == "plain"
    np.testing.assert_array_equal(plain.images, mnist.images)


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    # A complete gzip stream whose IDX payload is short.
    short = tmp_path / "short-images.gz"
    short.write_bytes(gzip.compress(_mnist_bytes("images")[:-1000], compresslevel=1))
    with pytest.raises(FileFormatError, match="short-images.gz is truncated"):
        read_idx(short)
    # A gzip stream cut in the middle.
    cut = tmp_path / "cut-images.gz"
    cut.write_bytes(dataset_path("mnist_test", "images").read_bytes()[:50_000])
    with pytest.raises(FileFormatError, match="cut-images.gz"):
        read_idx(cut)


def test_idx_truncated_and_trailing_uncompressed(tmp_path: Path) -> None:
    content = _mnist_bytes("images")
    truncated = tmp_path / "truncated.idx"
    truncated.write_bytes(content[:-1])
    with pytest.raises(FileFormatError, match="truncated.idx"):
        read_idx(truncated)
    trailing = tmp_path / "trailing.idx"
    trailing.write_bytes(content + b"\x00")
    with pytest.raises(FileFormatError, match="trailing.idx"):
        read_idx(trailing)


def test_idx_wrong_magic(tmp_path: Path) -> None:
    labels = dataset_path("mnist_test", "labels")
    with pytest.raises(FileFormatError, match="0x0803"):
        read_idx(labels)  # a label file (0x0801) given as images
    images = dataset_path("mnist_test", "images")
    with pytest.raises(FileFormatError, match="0x0801"):
        read_idx(images, images)
    bogus = tmp_path / "bogus.idx"
    bogus.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 100)
    with pytest.raises(FileFormatError, match="not an unsigned-byte IDX"):
        read_idx(bogus)
    floats = tmp_path / "floats.idx"
    floats.write_bytes(b"\x00\x00\x0d\x03" + struct.pack(">3I", 1, 2, 2) + b"\x00" * 16)
    with pytest.raises(FileFormatError, match="0x00000d03"):
        read_idx(floats)


def test_idx_absurd_dimensions_are_refused_before_allocation(tmp_path: Path) -> None:
    huge = tmp_path / "huge.idx.gz"
    huge.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 2**31, 2**16, 2**16)))
    with pytest.raises(FileFormatError, match="implausible"):
        read_idx(huge)
    # Plausible-looking header, almost no data behind it: no 4 GB allocation, just an error.
    big = tmp_path / "big.idx.gz"
    big.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 60000, 256, 256)))
    with pytest.raises(FileFormatError, match="truncated"):
        read_idx(big)
    zero = tmp_path / "zero.idx"
    zero.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 0, 28, 28))
    with pytest.raises(FileFormatError, match="implausible"):
        read_idx(zero)


def test_idx_label_count_mismatch_and_missing_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.idx"
    labels.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([1, 2, 3]))
    with pytest.raises(FileFormatError, match="3 labels"):
        read_idx(dataset_path("mnist_test", "images"), labels)
    with pytest.raises(DatasetNotFoundError, match="missing.idx"):
        read_idx(tmp_path / "missing.idx")


# ---------------------------------------------------------------------------------- folders
def _copy_cifar_images(data_dir: Path, target: Path, per_class: int = 3) -> None:
    for class_name in ("cat", "dog"):
        (target / class_name).mkdir(parents=True)
        source = sorted((data_dir / "natural/cifar10_test_subset" / class_name).iterdir())
        for file in source[:per_class]:
            shutil.copy(file, target / class_name / file.name)


def test_folder_with_corrupt_jpg(data_dir: Path, tmp_path: Path) -> None:
    _copy_cifar_images(data_dir, tmp_path)
    (tmp_path / "dog" / "x.jpg").write_text("this is not a picture\n")
    with pytest.raises(FileFormatError, match=r"x\.jpg"):
        read_image_folder(tmp_path)
    with pytest.warns(UserWarning, match=r"x\.jpg"):
        images = read_image_folder(tmp_path, on_error="skip")
    assert images.n_images == 6
    assert images.class_counts() == {0: 3, 1: 3}


def test_folder_with_truncated_jpg(data_dir: Path, tmp_path: Path) -> None:
    _copy_cifar_images(data_dir, tmp_path)
    victim = sorted((tmp_path / "cat").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:300])
    with pytest.raises(FileFormatError, match=victim.name):
        read_image_folder(tmp_path)


def test_folder_mixed_sizes_and_modes(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    Image.new("L", (20, 10), color=128).save(tmp_path / "one" / "gray.png")
    Image.new("RGBA", (20, 10), color=(255, 0, 0, 40)).save(tmp_path / "one" / "rgba.png")
    Image.new("RGB", (7, 9), color=(0, 0, 255)).save(tmp_path / "two" / "small.bmp")
    Image.new("RGB", (20, 10), color=(0, 255, 0)).save(tmp_path / "two" / "green.tif")
    # A PNG with a .jpg name: formats are recognised by content.
    Image.new("RGB", (30, 30), color=(10, 20, 30)).save(tmp_path / "two" / "named.jpg", "PNG")
    images = read_image_folder(tmp_path)
    # Most common size is 10 x 20 (H x W); everything becomes RGB because not all are gray.
    assert images.images.shape == (5, 3, 10, 20)
    assert images.class_names == ("one", "two")
    assert images.labels.tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_allclose(images.images[0], 128 / 255, atol=1e-6)  # gray -> 3 equal channels
    np.testing.assert_allclose(images.images[1, 0], 1.0)  # alpha dropped
    np.testing.assert_allclose(images.images[1, 1:], 0.0)
    # Sorted in "two": green.tif, named.jpg (a PNG), small.bmp (resized from 9 x 7).
    np.testing.assert_allclose(images.images[2, 1], 1.0)
    np.testing.assert_allclose(images.images[3, :, 0, 0], np.array([10, 20, 30]) / 255, atol=1e-5)
    np.testing.assert_allclose(images.images[4, 2], 1.0, atol=1e-6)
    np.testing.assert_allclose(images.images[4, :2], 0.0, atol=1e-6)
    square = read_image_folder(tmp_path, size=16)
    assert square.image_shape == (3, 16, 16)


def test_folder_all_grayscale_stays_one_channel(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    Image.new("L", (6, 6), color=255).save(tmp_path / "a" / "white.png")
    sixteen = Image.fromarray(np.full((6, 6), 65535 // 2, dtype=np.uint16))
    sixteen.save(tmp_path / "a" / "sixteen.png")
    images = read_image_folder(tmp_path)
    assert images.image_shape == (1, 6, 6)
    np.testing.assert_allclose(images.images[0], 0.5, atol=1e-4)  # 16-bit scaled by 65535
    np.testing.assert_allclose(images.images[1], 1.0)


def test_folder_empty_or_without_classes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no class sub-folders"):
        read_image_folder(tmp_path)
    Image.new("L", (4, 4)).save(tmp_path / "loose.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        read_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match="loose.png"), pytest.raises(DataError, match="empty"):
        read_image_folder(tmp_path)
    with pytest.raises(DatasetNotFoundError):
        read_image_folder(tmp_path / "nowhere")


def test_folder_decompression_bomb_guard(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_cifar_images(data_dir, tmp_path, per_class=1)
    # 32 x 32 = 1024 pixels is more than twice the limit: Pillow raises its bomb error.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)
    with pytest.raises(FileFormatError, match="decompression-bomb"):
        read_image_folder(tmp_path)


# ---------------------------------------------------------------------------------- npz
def test_npz_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    channels_last = rng.integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "hwc.npz", images=channels_last, labels=np.array([1, 3, 3, 1]))
    images = read_npz_images(tmp_path / "hwc.npz")
    assert images.images.shape == (4, 3, 5, 6)
    np.testing.assert_allclose(images.images[2, 1], channels_last[2, :, :, 1] / 255, atol=1e-7)
    # 1-based (sparse) labels are mapped to 0..K-1 and named by their value in the file.
    assert images.labels.tolist() == [0, 1, 1, 0]
    assert images.class_names == ("1", "3")
    assert images.name == "hwc"

    first = rng.random((3, 1, 7, 7), dtype=np.float32)
    np.savez(tmp_path / "chw.npz", pixels=first)
    loaded = read_npz_images(tmp_path / "chw.npz", images_key="pixels")
    np.testing.assert_array_equal(loaded.images, first)
    assert loaded.labels is None

    np.save(tmp_path / "plain.npy", rng.random((2, 9, 9)))
    assert read_npz_images(tmp_path / "plain.npy").image_shape == (1, 9, 9)

    np.savez(tmp_path / "named.npz", images=first, labels=[1, 0, 1], class_names=["x", "y"])
    assert read_npz_images(tmp_path / "named.npz").class_names == ("x", "y")


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "ambiguous.npz", images=np.zeros((2, 3, 5, 3), np.uint8))
    with pytest.raises(FileFormatError, match="ambiguous"):
        read_npz_images(tmp_path / "ambiguous.npz")
    assert read_npz_images(tmp_path / "ambiguous.npz", layout="NHWC").image_shape == (3, 3, 5)
    np.savez(tmp_path / "objects.npz", images=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(FileFormatError, match="pickle"):
        read_npz_images(tmp_path / "objects.npz")
    np.savez(tmp_path / "nokey.npz", other=np.zeros((1, 4, 4)))
    with pytest.raises(FileFormatError, match="'images'.*other"):
        read_npz_images(tmp_path / "nokey.npz")
    np.savez(tmp_path / "range.npz", images=np.full((1, 4, 4), 3.0))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        read_npz_images(tmp_path / "range.npz")
    np.savez(tmp_path / "ints.npz", images=np.zeros((1, 4, 4), np.int32))
    with pytest.raises(FileFormatError, match="int32"):
        read_npz_images(tmp_path / "ints.npz")
    np.savez(tmp_path / "count.npz", images=np.zeros((2, 4, 4)), labels=[0, 1, 1])
    with pytest.raises(FileFormatError, match="one each"):
        read_npz_images(tmp_path / "count.npz")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileFormatError, match="garbage.npz"):
        read_npz_images(tmp_path / "garbage.npz")


# ---------------------------------------------------------------------------------- CIFAR
def _cifar_batch(n: int = 5) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, n)]


class _Python2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes strings as Python 2 `str` (BINSTRING) and arrays with numpy 1's module path,
    like the pickles inside the canonical cifar-10-python.tar.gz (made with Python 2)."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_python2_str(self, obj) -> None:
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_python2_str
    dispatch[str] = _save_python2_str


def _python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Python2StylePickler(buffer, protocol=2).dump(obj)
    content = buffer.getvalue()
    return content.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def test_cifar_batch_written_by_python3(tmp_path: Path) -> None:
    data, labels = _cifar_batch()
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    images = read_cifar_batch(path)
    assert images.images.shape == (5, 3, 32, 32)
    assert images.labels.tolist() == labels
    assert images.class_names == CIFAR10_NAMES
    np.testing.assert_allclose(
        images.images[3, 2].ravel(), data[3, 2048:] / 255.0, atol=1e-7
    )  # rows are R (1024), G (1024), B (1024), each row-major 32 x 32


def test_cifar_python2_style_batch_with_meta(tmp_path: Path) -> None:
    data, labels = _cifar_batch()
    batch = {"batch_label": "testing batch 1 of 1", "data": data, "labels": labels,
             "filenames": [f"img_{i}.png" for i in range(5)]}  # fmt: skip
    (tmp_path / "test_batch").write_bytes(_python2_pickle(batch))
    names = [f"class{c}" for c in range(10)]
    (tmp_path / "batches.meta").write_bytes(_python2_pickle({"label_names": names}))
    assert b"numpy.core.multiarray" in (tmp_path / "test_batch").read_bytes()
    images = read_cifar_batch(tmp_path / "test_batch")
    assert images.class_names == tuple(names)
    np.testing.assert_allclose(images.images.reshape(5, -1), data / 255.0, atol=1e-7)


def test_cifar_tar_archive_read_in_memory(tmp_path: Path) -> None:
    data, labels = _cifar_batch(7)
    names = list(CIFAR10_NAMES)
    members = {
        "cifar-10-batches-py/data_batch_1": _python2_pickle({"data": data[:1], "labels": [0]}),
        "cifar-10-batches-py/test_batch": _python2_pickle({"data": data, "labels": labels}),
        "cifar-10-batches-py/batches.meta": _python2_pickle({"label_names": names}),
    }
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for member_name, content in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    before = sorted(p.name for p in tmp_path.iterdir())
    images = read_cifar_batch(archive)
    assert images.n_images == 7 and images.labels.tolist() == labels
    assert images.class_names == CIFAR10_NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing extracted
    assert read_cifar_batch(archive, member="data_batch_1").n_images == 1
    with pytest.raises(FileFormatError, match="data_batch_9"):
        read_cifar_batch(archive, member="data_batch_9")


class _RunsShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_cifar_malicious_pickle_is_refused_and_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "test_batch"
    data, labels = _cifar_batch()
    payload = {b"data": data, b"labels": labels, b"extra": _RunsShellCommand(marker)}
    hostile.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(FileFormatError, match=r"system.*refusing"):
        read_cifar_batch(hostile)
    assert not marker.exists()
    hostile.write_bytes(pickle.dumps({b"data": _CallsEval()}, protocol=2))
    with pytest.raises(FileFormatError, match=r"builtin__\.eval"):
        read_cifar_batch(hostile)
    objects = np.array([marker, None], dtype=object)
    hostile.write_bytes(pickle.dumps({b"data": objects, b"labels": [0, 1]}, protocol=2))
    with pytest.raises(FileFormatError):
        read_cifar_batch(hostile)


def test_cifar_broken_batches(tmp_path: Path) -> None:
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(FileFormatError, match="3072"):
        read_cifar_batch(path)
    data, _ = _cifar_batch(2)
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [0]}, protocol=2))
    with pytest.raises(FileFormatError, match="1 labels for 2 images"):
        read_cifar_batch(path)
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [0, 1]}, protocol=2)[:-40])
    with pytest.raises(FileFormatError, match="test_batch"):
        read_cifar_batch(path)
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(FileFormatError, match="dict"):
        read_cifar_batch(path)


# ---------------------------------------------------------------------- format by content
def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes((0, 0, 0x08, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_image_files_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    """load_dataset picks the image reader from a file's first bytes: IDX images and labels
    under any names (the labels found beside the images by MNIST's naming), a gzipped IDX, a
    CIFAR batch and a CIFAR tar archive without their usual names; a scene named like a CIFAR
    batch is still read as a scene; a labels file alone is refused with the reason."""
    from explore.data.images import sniff_image_file
    from explore.data.registry import load_dataset

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 6, 5))
    classes = np.array([0, 1, 1, 2])
    images = tmp_path / "digits-images-idx3-ubyte.bin"
    images.write_bytes(_idx_bytes(pixels))
    labels = tmp_path / "digits-labels-idx1-ubyte.bin"
    labels.write_bytes(_idx_bytes(classes))
    zipped = tmp_path / "renamed.dat"
    zipped.write_bytes(gzip.compress(_idx_bytes(pixels)))
    data, cifar_labels = _cifar_batch()
    batch = tmp_path / "some_file.bin"
    batch.write_bytes(pickle.dumps({b"data": data, b"labels": cifar_labels}, protocol=2))
    archive = tmp_path / "cifar_copy.archive"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(batch, arcname="cifar-10-batches-py/test_batch")
    scene = tmp_path / "scene_batch"
    np.save(scene.with_suffix(".npy"), rng.random((5, 4, 3)).astype(np.float32))
    scene = scene.with_suffix(".npy").rename(scene)  # named like a CIFAR batch

    kinds = [sniff_image_file(p) for p in (images, labels, zipped, batch, archive, scene)]
    assert kinds == ["idx_images", "idx_labels", "idx_images", "cifar", "cifar", None]
    assert sniff_image_file(tmp_path / "missing") is None

    loaded = load_dataset(images)
    assert loaded.images.shape == (4, 1, 6, 5) and loaded.labels.tolist() == classes.tolist()
    unlabelled = load_dataset(zipped)
    assert unlabelled.labels is None
    np.testing.assert_allclose(unlabelled.images[:, 0], pixels / 255.0, atol=1e-7)
    assert load_dataset(batch).images.shape == (5, 3, 32, 32)
    assert load_dataset(archive).labels.tolist() == cifar_labels
    assert load_dataset(scene).cube.shape == (5, 4, 3)
    with pytest.raises(DataError, match="holds IDX labels, not images"):
        load_dataset(labels)
