"""The readers that build an `ImageSet`: image folders (one sub-folder per class), MNIST-style
IDX files, `.npz` arrays, scikit-learn's digits and CIFAR python batches. Readers decode and
normalise; `ImageSet` validates.

Untrusted files are read defensively: IDX headers are checked against the bytes that really
follow before anything is allocated, Pillow's decompression-bomb limit stays on, `.npz` files
are loaded without pickle, and CIFAR pickles go through an unpickler that can only rebuild
numpy arrays.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from explore.data.class_names import CIFAR10_CLASS_NAMES
from explore.data.image_resize import _check_size, _resize_one
from explore.data.image_set import ImageSet
from explore.data.readers import check_zip_sizes
from explore.errors import DataError, DatasetNotFoundError, FileFormatError

_IMAGE_FORMATS = ("JPEG", "PNG", "TIFF", "BMP")
_GRAYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UNSIGNED_BYTE = 0x08
# An IDX payload above this many bytes is treated as a corrupt header, not a real dataset.
_IDX_MAX_BYTES = 1 << 32
_READ_CHUNK = 1 << 20

_CIFAR_IMAGE_SIZE = 32
_CIFAR_MAX_MEMBER_BYTES = 1 << 29


# ---------------------------------------------------------------------------------- helpers
def _existing_path(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetNotFoundError(f"{what} {path} does not exist")
    return path


def _labels_to_classes(labels: np.ndarray, source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map the non-negative label values to 0..K-1 (sorted) and name each class by its value
    in the file; -1 stays unknown. Labels that already are 0..K-1 are unchanged."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise FileFormatError(f"{source}: labels must be 1-D; got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise FileFormatError(f"{source}: labels must be integers; got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < -1:
        raise FileFormatError(
            f"{source}: labels must be >= 0, or -1 for unknown; got {int(labels.min())}"
        )
    values = np.unique(labels[labels >= 0])
    if values.size and values[0] == 0 and values[-1] == values.size - 1:
        return labels, tuple(str(int(v)) for v in values)
    remapped = np.full(labels.shape, -1, dtype=np.int64)
    known = labels >= 0
    remapped[known] = np.searchsorted(values, labels[known])
    return remapped, tuple(str(int(v)) for v in values)


# ---------------------------------------------------------------------------------- folders
def _open_image(path: Path) -> Any:
    """Open `path` with Pillow (header only), as one of the accepted formats."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path, formats=_IMAGE_FORMATS)
    except Image.DecompressionBombError as error:
        raise FileFormatError(
            f"{path}: image is larger than Pillow's decompression-bomb limit "
            f"({Image.MAX_IMAGE_PIXELS} pixels): {error}"
        ) from error
    except UnidentifiedImageError as error:
        raise FileFormatError(
            f"{path} is not a readable {'/'.join(_IMAGE_FORMATS)} image"
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise FileFormatError(f"{path}: cannot read image: {error}") from error


def _decode(path: Path, grayscale: bool) -> np.ndarray:
    """Decode `path` to (C, H, W) float32 in [0, 1]: C = 1 if `grayscale`, else 3.

    8-bit modes are divided by 255, 16-bit ("I;16", "I") by 65535; float ("F") images must
    already lie in [0, 1]. Alpha channels are dropped; palette and other colour modes become RGB.
    """
    from PIL import Image

    try:
        with _open_image(path) as image:
            mode = image.mode
            if mode in _SIXTEEN_BIT_MODES or mode == "I":
                values = np.asarray(image).astype(np.float32)
                if values.min() < 0 or values.max() > 65535:
                    raise FileFormatError(
                        f"{path}: 32-bit integer image with values outside 0..65535 "
                        "is not supported"
                    )
                pixels = (values / 65535.0)[None]
            elif mode == "F":
                pixels = np.asarray(image, dtype=np.float32)[None]
                if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 1:
                    raise FileFormatError(f"{path}: float image values must lie in [0, 1]")
            elif mode in _GRAYSCALE_MODES:
                pixels = (np.asarray(image.convert("L"), dtype=np.float32) / 255.0)[None]
            else:
                rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
                pixels = rgb.transpose(2, 0, 1)
    except FileFormatError:
        raise
    except Image.DecompressionBombError as error:
        raise FileFormatError(f"{path}: decompression-bomb limit exceeded: {error}") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise FileFormatError(f"{path}: corrupt or truncated image: {error}") from error
    if not grayscale and pixels.shape[0] == 1:
        pixels = np.repeat(pixels, 3, axis=0)
    return pixels


def _fail_or_skip(error: FileFormatError, on_error: str, skipped: list[Path], path: Path) -> None:
    if on_error == "raise":
        raise error
    warnings.warn(f"skipping unreadable image: {error}", stacklevel=3)
    skipped.append(path)


def read_image_folder(
    path: str | Path,
    *,
    size: int | tuple[int, int] | None = None,
    name: str | None = None,
    max_per_class: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
) -> ImageSet:
    """Read a folder holding one sub-folder of images per class.

    Class names are the sorted sub-folder names; files are read in sorted order (the first
    `max_per_class` of each class when given). Formats (JPEG, PNG, TIFF, BMP) are recognised by
    content, not extension. Images are converted to RGB unless every one is grayscale, and
    resized (bilinear, antialiased) to `size` = (height, width) or an int for squares; when
    `size` is None, to the most common size in the folder (ties: the first met). Hidden files
    (".*") are ignored, as are files lying directly in `path`.

    A file that is not a readable image raises FileFormatError naming it; with
    `on_error="skip"` it is skipped with a warning instead. Pillow's decompression-bomb limit
    (`PIL.Image.MAX_IMAGE_PIXELS`) stays on; images above it count as unreadable.
    """
    root = _existing_path(path, "image folder")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected one sub-folder per class")
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    if max_per_class is not None and int(max_per_class) < 1:
        raise DataError(f"max_per_class must be >= 1; got {max_per_class}")
    target = None
    if size is not None:
        target = _check_size(size, size) if isinstance(size, int) else _check_size(*size)

    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    class_dirs = [p for p in entries if p.is_dir()]
    if not class_dirs:
        raise DataError(f"image folder {root} has no class sub-folders")
    loose = [p.name for p in entries if p.is_file()]
    if loose:
        warnings.warn(
            f"{len(loose)} files lying directly in {root} are ignored (e.g. {loose[0]!r}); "
            "images must sit in one sub-folder per class",
            stacklevel=2,
        )

    # Pass 1: headers only (size and mode), so that the output is allocated once.
    found: list[tuple[Path, int, tuple[int, int], bool]] = []
    skipped: list[Path] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"class folder {class_dir} holds no files")
        if max_per_class is not None:
            files = files[: int(max_per_class)]
        for file in files:
            try:
                with _open_image(file) as image:
                    width, height = image.size
                    found.append((file, label, (height, width), image.mode in _GRAYSCALE_MODES))
            except FileFormatError as error:
                _fail_or_skip(error, on_error, skipped, file)
    if not found:
        raise DataError(f"image folder {root} holds no readable image")

    grayscale = all(is_gray for *_, is_gray in found)
    if target is None:
        target = Counter(shape for _, _, shape, _ in found).most_common(1)[0][0]
    channels = 1 if grayscale else 3
    images = np.empty((len(found), channels, *target), dtype=np.float32)
    labels = np.empty(len(found), dtype=np.int64)
    count = 0
    for file, label, shape, _ in found:
        try:
            pixels = _decode(file, grayscale)
        except FileFormatError as error:
            _fail_or_skip(error, on_error, skipped, file)
            continue
        if shape != target:
            pixels = _resize_one(pixels, *target)
        images[count] = pixels
        labels[count] = label
        count += 1
    if count == 0:
        raise DataError(f"image folder {root} holds no readable image")
    return ImageSet(
        images=images[:count],
        labels=labels[:count],
        class_names=tuple(p.name for p in class_dirs),
        name=name or root.name,
    )


# ---------------------------------------------------------------------------------- IDX files
def _open_maybe_gzip(path: Path) -> BinaryIO:
    """Open `path` for reading, decompressing it when it starts with the gzip magic bytes."""
    handle = path.open("rb")
    if handle.read(2) == _GZIP_MAGIC:
        handle.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


_PICKLE_PROTOCOL_2_PLUS = 0x80  # the first byte of a pickle of protocol 2 or later


def sniff_image_file(path: str | Path) -> Literal["idx_images", "idx_labels", "cifar"] | None:
    """Which image-set format `path` holds, from its first bytes (gzip looked through), never
    its name: MNIST IDX images (magic 0x0803) or labels (0x0801), a CIFAR batch (a pickle) or
    archive (a tar file); None for anything else (a scene file, an .npz, ...)."""
    file = Path(path)
    if not file.is_file():
        return None
    try:
        with _open_maybe_gzip(file) as stream:
            head = stream.read(4)
        if head[:3] == bytes((0, 0, _IDX_UNSIGNED_BYTE)) and len(head) == 4:
            return {3: "idx_images", 1: "idx_labels"}.get(head[3])
        if head[:1] == bytes((_PICKLE_PROTOCOL_2_PLUS,)):
            return "cifar"
        return "cifar" if tarfile.is_tarfile(file) else None
    except (OSError, EOFError, zlib.error, tarfile.TarError):  # a cut gzip: not an image file
        return None


def _read_up_to(stream: BinaryIO, n_bytes: int) -> bytes:
    """Read at most `n_bytes`, chunk by chunk, so memory grows with the data really present
    rather than with a size announced by an untrusted header."""
    chunks = []
    remaining = n_bytes
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_idx_array(path: Path, expected_ndim: int, what: str) -> np.ndarray:
    """An unsigned-byte IDX array of `expected_ndim` axes from `path` (gzipped or not)."""
    expected_magic = f"0x08{expected_ndim:02x}"
    try:
        with _open_maybe_gzip(path) as stream:
            header = stream.read(4)
            if len(header) < 4:
                raise FileFormatError(f"{path} is too short to be an IDX file ({what})")
            if header[0] != 0 or header[1] != 0 or header[2] != _IDX_UNSIGNED_BYTE:
                raise FileFormatError(
                    f"{path} is not an unsigned-byte IDX file: magic 0x{header.hex()}, "
                    f"expected {expected_magic} for {what}"
                )
            if header[3] != expected_ndim:
                raise FileFormatError(
                    f"{path}: IDX magic 0x{header.hex()} declares {header[3]} axes; "
                    f"{what} need magic {expected_magic}"
                )
            dims_bytes = stream.read(4 * expected_ndim)
            if len(dims_bytes) < 4 * expected_ndim:
                raise FileFormatError(f"{path}: IDX header is truncated")
            dims = struct.unpack(f">{expected_ndim}I", dims_bytes)
            n_bytes = int(np.prod(dims, dtype=np.float64))
            if min(dims) == 0 or n_bytes > _IDX_MAX_BYTES:
                raise FileFormatError(
                    f"{path}: IDX header declares implausible dimensions {dims} for {what}"
                )
            if not isinstance(stream, gzip.GzipFile):
                available = path.stat().st_size - 4 - 4 * expected_ndim
                if available != n_bytes:
                    raise FileFormatError(
                        f"{path}: IDX header declares {dims} = {n_bytes} bytes of {what} but the "
                        f"file holds {available} (truncated or not an IDX file)"
                    )
            payload = _read_up_to(stream, n_bytes)
            if len(payload) < n_bytes:
                raise FileFormatError(
                    f"{path} is truncated: header declares {dims} = {n_bytes} bytes of {what}, "
                    f"found {len(payload)}"
                )
            if stream.read(1):
                raise FileFormatError(
                    f"{path}: data continue past the {n_bytes} bytes its header declares {dims}"
                )
    except FileFormatError:
        raise
    except (OSError, EOFError, zlib.error) as error:
        raise FileFormatError(f"{path}: corrupt or truncated IDX file ({error})") from error
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def read_idx(
    images_path: str | Path, labels_path: str | Path | None = None, *, name: str | None = None
) -> ImageSet:
    """Read MNIST-style IDX files: images (magic 0x0803, N x H x W unsigned bytes) and
    optionally labels (magic 0x0801, N unsigned bytes). Gzip is detected by its magic bytes.

    Images are scaled to [0, 1] by dividing by 255; class c is named str(c) for
    c = 0..max label. Header dimensions are checked against the bytes present before any
    array is allocated: a truncated or inconsistent file raises FileFormatError.
    """
    images_file = _existing_path(images_path, "IDX image file")
    images = _read_idx_array(images_file, 3, "images")
    labels = None
    names: tuple[str, ...] = ()
    if labels_path is not None:
        labels_file = _existing_path(labels_path, "IDX label file")
        raw_labels = _read_idx_array(labels_file, 1, "labels")
        if raw_labels.shape[0] != images.shape[0]:
            raise FileFormatError(
                f"{labels_file} holds {raw_labels.shape[0]} labels but {images_file} holds "
                f"{images.shape[0]} images"
            )
        labels = raw_labels.astype(np.int64)
        names = tuple(str(c) for c in range(int(labels.max()) + 1))
    default_name = images_file.name.removesuffix(".gz")
    return ImageSet(
        images=(images.astype(np.float32) / 255.0)[:, None],
        labels=labels,
        class_names=names,
        name=name or default_name,
    )


# ---------------------------------------------------------------------------------- arrays
def _to_nchw(array: np.ndarray, layout: str, source: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) -> (N, C, H, W)."""
    if array.ndim == 3:
        return array[:, None]
    if array.ndim != 4:
        raise FileFormatError(
            f"{source}: images must be (N, H, W), (N, H, W, C) or (N, C, H, W); "
            f"got shape {array.shape}"
        )
    if layout == "auto":
        first, last = array.shape[1] in (1, 3), array.shape[3] in (1, 3)
        if first and last:
            raise FileFormatError(
                f"{source}: image layout of shape {array.shape} is ambiguous; "
                "pass layout='NCHW' or layout='NHWC'"
            )
        layout = "NCHW" if first else "NHWC"
    if layout == "NHWC":
        array = array.transpose(0, 3, 1, 2)
    elif layout != "NCHW":
        raise DataError(f"layout must be 'auto', 'NCHW' or 'NHWC'; got {layout!r}")
    if array.shape[1] not in (1, 3):
        raise FileFormatError(
            f"{source}: images must have 1 or 3 channels; got shape {array.shape} ({layout})"
        )
    return array


def read_npz_images(
    path: str | Path,
    *,
    images_key: str = "images",
    labels_key: str | None = "labels",
    class_names_key: str = "class_names",
    layout: Literal["auto", "NCHW", "NHWC"] = "auto",
    name: str | None = None,
) -> ImageSet:
    """Read images (and labels) from a `.npz` archive, or images alone from a `.npy` file.

    Images may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3 (`layout` settles
    the ambiguous case); uint8 is divided by 255, floats must already lie in [0, 1]. Labels are
    read from `labels_key` when the archive has it (None: ignore labels); their non-negative
    values are mapped to 0..K-1 in sorted order (-1 = unknown), each class named by its value,
    unless the archive names the classes under `class_names_key`. Pickled objects are refused.
    """
    file = _existing_path(path, "array file")
    source = str(file)
    if file.is_file() and zipfile.is_zipfile(file):
        check_zip_sizes(file)  # before numpy allocates what a corrupt directory declares
    try:
        # Opened here, not by np.load, so the file is closed even when numpy fails midway.
        with file.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                raw_images, raw_labels, raw_names = loaded, None, None
            else:
                if images_key not in loaded.files:
                    raise FileFormatError(
                        f"{source} has no array {images_key!r}; it holds {sorted(loaded.files)}"
                    )
                raw_images = loaded[images_key]
                raw_labels = (
                    loaded[labels_key]
                    if labels_key is not None and labels_key in loaded.files
                    else None
                )
                raw_names = loaded[class_names_key] if class_names_key in loaded.files else None
    except FileFormatError:
        raise
    except ValueError as error:
        raise FileFormatError(f"{source}: cannot load without pickle ({error})") from error
    except (OSError, EOFError, zipfile.BadZipFile, MemoryError) as error:
        raise FileFormatError(f"{source}: not a readable .npy/.npz file ({error})") from error

    if raw_images.dtype == np.uint8:
        images = raw_images.astype(np.float32) / 255.0
    elif np.issubdtype(raw_images.dtype, np.floating):
        images = raw_images.astype(np.float32)
    else:
        raise FileFormatError(
            f"{source}: images must be uint8 (0..255) or float (0..1); got {raw_images.dtype}"
        )
    images = _to_nchw(images, layout, source)

    labels = None
    names: tuple[str, ...] = ()
    if raw_labels is not None:
        if raw_names is not None:
            names = tuple(str(v) for v in np.asarray(raw_names).reshape(-1))
            labels = np.asarray(raw_labels)
            if not np.issubdtype(labels.dtype, np.integer):
                raise FileFormatError(f"{source}: labels must be integers; got {labels.dtype}")
        else:
            labels, names = _labels_to_classes(raw_labels, source)
        if labels.shape != (images.shape[0],):
            raise FileFormatError(
                f"{source}: {labels.shape} labels for {images.shape[0]} images; need one each"
            )
    try:
        return ImageSet(images=images, labels=labels, class_names=names, name=name or file.stem)
    except DataError as error:  # NaN, values outside [0, 1], labels without a name, ...
        raise type(error)(f"{source}: {error}") from error


def load_digits_imageset() -> ImageSet:
    """scikit-learn's digits (shipped with it, no download): 1,797 images (1, 8, 8) with
    values 0..16 scaled to [0, 1], classes "0".."9"."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[:, None]
    return ImageSet(
        images=images,
        labels=digits.target.astype(np.int64),
        class_names=tuple(str(c) for c in range(10)),
        name="digits",
    )


# ---------------------------------------------------------------------------------- CIFAR
def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise FileFormatError(f"pickle asks for an array of type {subtype!r}; only plain arrays")
    return _numpy_reconstruct()(subtype, shape, dtype)


def _safe_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise FileFormatError("pickle holds an object array; only numeric arrays are allowed")
    return dtype


def _safe_codecs_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """What protocol-2 pickles written by Python 3 use to store `bytes`, limited to latin-1."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise FileFormatError(f"pickle calls _codecs.encode with {encoding!r}; refused")
    return text.encode("latin1", errors)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, dicts, lists and strings, and nothing else:
    every other global a pickle names (os.system, builtins.eval, ...) raises FileFormatError
    before it can be called."""

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _safe_codecs_encode,
    }

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        allowed = self._allowed.get((module, name))
        if allowed is None:
            raise FileFormatError(
                f"{self._source}: pickle refers to {module}.{name}, which an image batch never "
                "needs; refusing to load it"
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise FileFormatError(f"{self._source}: pickle uses persistent ids; refused")


def _unpickle_dict(data: bytes | BinaryIO, source: str) -> dict[str, Any]:
    """Unpickle a dict with the restricted unpickler; bytes keys are decoded as latin-1."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        loaded = _ArrayOnlyUnpickler(stream, source).load()
    except FileFormatError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
        RecursionError,
        struct.error,
        UnicodeDecodeError,
    ) as error:
        raise FileFormatError(f"{source}: not a readable pickle ({error!r})") from error
    if not isinstance(loaded, dict):
        raise FileFormatError(f"{source}: expected a pickled dict; got {type(loaded).__name__}")
    return {
        (key.decode("latin1") if isinstance(key, bytes) else str(key)): value
        for key, value in loaded.items()
    }


def _names_from_meta(meta: dict[str, Any], source: str) -> tuple[str, ...]:
    for key in ("label_names", "fine_label_names"):
        if key in meta:
            names = meta[key]
            if isinstance(names, np.ndarray):
                names = names.tolist()
            if not isinstance(names, list | tuple) or not all(
                isinstance(v, str | bytes) for v in names
            ):
                raise FileFormatError(
                    f"{source}: {key!r} must be a list of class names; got {type(names).__name__}"
                )
            try:
                return tuple(v.decode("utf-8") if isinstance(v, bytes) else v for v in names)
            except UnicodeDecodeError as error:
                raise FileFormatError(f"{source}: {key!r} is not UTF-8 text ({error})") from error
    raise FileFormatError(f"{source}: meta file has no 'label_names'; keys {sorted(meta)}")


def _imageset_from_cifar(
    batch: dict[str, Any], names: tuple[str, ...] | None, source: str, name: str
) -> ImageSet:
    data = batch.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise FileFormatError(f"{source}: 'data' must be a 2-D uint8 array; keys {sorted(batch)}")
    pixels_per_image = 3 * _CIFAR_IMAGE_SIZE * _CIFAR_IMAGE_SIZE
    if data.shape[1] != pixels_per_image:
        raise FileFormatError(
            f"{source}: 'data' rows must hold {pixels_per_image} values (3 x 32 x 32); "
            f"got shape {data.shape}"
        )
    labels_key = next((k for k in ("labels", "fine_labels") if k in batch), None)
    if labels_key is None:
        raise FileFormatError(f"{source}: batch has no 'labels'; keys {sorted(batch)}")
    try:
        labels = np.asarray(batch[labels_key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as error:
        raise FileFormatError(f"{source}: labels are not integers ({error})") from error
    if labels.shape[0] != data.shape[0]:
        raise FileFormatError(
            f"{source}: {labels.shape[0]} labels for {data.shape[0]} images; need one each"
        )
    if labels.size and labels.min() < 0:
        raise FileFormatError(f"{source}: labels must be >= 0; got {int(labels.min())}")
    if names is None:
        top = int(labels.max()) if labels.size else -1
        if labels_key == "labels" and top < len(CIFAR10_CLASS_NAMES):
            names = CIFAR10_CLASS_NAMES
        else:
            names = tuple(str(c) for c in range(top + 1))
    if labels.size and labels.max() >= len(names):
        raise FileFormatError(
            f"{source}: label {int(labels.max())} has no class name ({len(names)} names)"
        )
    images = data.reshape(-1, 3, _CIFAR_IMAGE_SIZE, _CIFAR_IMAGE_SIZE).astype(np.float32)
    return ImageSet(images=images / 255.0, labels=labels, class_names=names, name=name)


def _read_cifar_tar(path: Path, member: str) -> tuple[dict[str, Any], tuple[str, ...] | None]:
    """The batch `member` and the class names of a CIFAR tar archive, read in one streaming
    pass without extracting anything to disk."""
    batch: dict[str, Any] | None = None
    names: tuple[str, ...] | None = None
    try:
        with tarfile.open(path, "r|*") as archive:
            for entry in archive:
                base = entry.name.rsplit("/", 1)[-1]
                if not entry.isfile() or base not in (member, "batches.meta", "meta"):
                    continue
                if entry.size > _CIFAR_MAX_MEMBER_BYTES:
                    raise FileFormatError(f"{path}: member {entry.name} is implausibly large")
                handle = archive.extractfile(entry)
                if handle is None:
                    continue
                source = f"{path}:{entry.name}"
                content = _unpickle_dict(handle.read(), source)
                if base == member:
                    batch = content
                else:
                    names = _names_from_meta(content, source)
                if batch is not None and names is not None:
                    break
    except FileFormatError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise FileFormatError(f"{path}: corrupt or truncated tar archive ({error})") from error
    if batch is None:
        raise FileFormatError(f"{path}: the archive has no member named {member!r}")
    return batch, names


def read_cifar_batch(
    path: str | Path, *, member: str = "test_batch", name: str | None = None
) -> ImageSet:
    """Read a CIFAR python batch: a pickled batch file (e.g. `test_batch`) or the canonical
    archive `cifar-10-python.tar.gz`, from which `member` (default the test batch, 10,000
    images) and `batches.meta` are read in memory, without extracting.

    Returns (N, 3, 32, 32) images in [0, 1]. Class names come from `batches.meta` (beside a
    batch file, or in the archive), else CIFAR-10's names. The pickle is read by an unpickler
    that only rebuilds numpy arrays: anything else in the file raises FileFormatError.
    """
    file = _existing_path(path, "CIFAR batch")
    try:
        is_archive = file.is_file() and tarfile.is_tarfile(file)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:  # e.g. a cut .tar.gz
        raise FileFormatError(f"{file}: corrupt or truncated archive ({error})") from error
    if is_archive:
        batch, names = _read_cifar_tar(file, member)
        default_name = f"cifar:{member}"
    else:
        try:
            with file.open("rb") as handle:
                batch = _unpickle_dict(handle, str(file))
        except IsADirectoryError as error:
            raise FileFormatError(f"{file} is a folder, not a CIFAR batch file") from error
        names = None
        for meta_name in ("batches.meta", "meta"):
            meta_path = file.with_name(meta_name)
            if meta_path.is_file() and meta_path != file:
                with meta_path.open("rb") as handle:
                    names = _names_from_meta(_unpickle_dict(handle, str(meta_path)), str(meta_path))
                break
        default_name = file.name
    return _imageset_from_cifar(batch, names, str(file), name or default_name)
