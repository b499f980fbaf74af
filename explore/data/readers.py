"""Readers: files to arrays and `Scene`s, the format chosen by content (magic bytes), never by name.

This module owns format sniffing, the inventory of arrays in a file (for `explore info`), loading
one array, picking a scene's cube and labels, and the unmixing layout (Samson / Jasper Ridge
style: `Y` bands x pixels in MATLAB column-major order, `A` abundances). Formats: MATLAB v5 and
v7.3 (HDF5) `.mat`, NumPy `.npy` and `.npz`, ENVI (header + binary data file) and GeoTIFF (with
the optional `rasterio`).

Large cubes are read lazily (`read_scene(lazy=...)`; by default above `EXPLORE_LAZY_BYTES`,
1 GiB): `.npy` and ENVI as read-only memory maps, GeoTIFF by windows (`WindowedCube`), so a
scene larger than memory can be predicted tile by tile (`explore.data.lazy`).

Every failure of the underlying libraries (scipy, h5py, numpy, spectral, rasterio) on a corrupt or
truncated file becomes a `FileFormatError` naming the file, with the library's error kept as
`__cause__`; a missing file is a `FileNotFoundError`. Sniffing reads only the first few KiB, `.npy`
files are read with `allow_pickle=False`, object arrays are refused, and declared sizes that do not
fit the file are refused before any data is read (a TIFF's width x height x bands against its
bytes times what its compression can expand to; see `_TiffSource` for the GeoTIFF rules: band
count, sample types, nodata, georeferencing).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import struct
import threading
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from explore.data.lazy import WindowedCube, lazy_threshold
from explore.data.scene import Georeference, Scene
from explore.errors import DataError, ExploreError, FileFormatError

PathLike = str | os.PathLike[str]

FORMATS = ("mat5", "mat73", "npy", "npz", "envi", "tiff")
_FORMAT_NAMES = {
    "mat5": "MATLAB v5 .mat",
    "mat73": "MATLAB v7.3 (HDF5) .mat",
    "npy": "NumPy .npy",
    "npz": "NumPy .npz",
    "envi": "ENVI",
    "tiff": "TIFF",
}

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# HDF5 looks for its superblock at 0 and at 512 * 2**k; MATLAB v7.3 puts it at 512.
_HDF5_OFFSETS = (0, 512, 1024, 2048)
_SNIFF_BYTES = 2048 + len(_HDF5_SIGNATURE)
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data by more than this

_MATLAB_NUMERIC_CLASSES = {
    "double": "float64",
    "single": "float32",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "logical": "bool",
}

# ENVI data files sit next to their header with one of these extensions (or none).
_ENVI_DATA_EXTENSIONS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".sli")
_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "microns", "um"}


# ---------------------------------------------------------------------------------- sniffing
def expand_user(path: PathLike) -> Path:
    """`path` with a leading ~ expanded; an unknown user is a FileNotFoundError, not Python's
    RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError as error:  # "~nobody/x": no such user or no home directory
        raise FileNotFoundError(errno.ENOENT, f"cannot expand ~ ({error})", str(path)) from error


def check_zip_sizes(path: Path) -> None:
    """Refuse a zip whose directory declares members larger than their compressed bytes can
    hold (stored: the same size; deflated: at most 1032 times, deflate's limit), before numpy
    allocates an array of the declared size and only then finds the data missing."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise FileFormatError(f"{path} is not a readable zip / .npz archive: {error}") from error
    for info in infos:
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = _DEFLATE_MAX_RATIO * info.compress_size + 1024
        else:
            continue
        if info.file_size > limit:
            raise FileFormatError(
                f"member {info.filename!r} of {path} declares {info.file_size} bytes but its "
                f"{info.compress_size} stored bytes cannot hold them: the archive is corrupt"
            )


def _existing_file(path: PathLike) -> Path:
    path = expand_user(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    if not path.is_file():
        raise FileFormatError(f"{path} is not a file (a folder?)")
    return path


def _read_head(path: Path, size: int = _SNIFF_BYTES) -> bytes:
    with path.open("rb") as stream:
        return stream.read(size)


def _describe_head(head: bytes) -> str:
    """Say what the first bytes of a file look like, for error messages."""
    if not head:
        return "it is empty (0 bytes)"
    sample = head[:64]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        return f"it starts with text {first_line[:40]!r}"
    return f"its first bytes are {head[:16].hex(' ')}"


def _envi_header_text(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ENVI")


def _sibling_envi_header(path: Path) -> Path | None:
    """The ENVI header next to a data file (`cube.img` -> `cube.hdr` or `cube.img.hdr`)."""
    for candidate in (
        path.with_suffix(".hdr"),
        path.with_suffix(".HDR"),
        path.with_name(path.name + ".hdr"),
        path.with_name(path.name + ".HDR"),
    ):
        if candidate != path and candidate.is_file() and _envi_header_text(_read_head(candidate)):
            return candidate
    return None


def _sniff_head(path: Path, head: bytes) -> str:
    if head.startswith(b"MATLAB"):
        for offset in _HDF5_OFFSETS[1:]:
            if head[offset : offset + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE:
                return "mat73"
        if len(head) < 128:
            raise FileFormatError(
                f"{path} starts like a MATLAB file but holds only {len(head)} bytes, less than "
                "the 128-byte MATLAB header: the file is truncated"
            )
        endian = head[126:128]
        if endian not in (b"IM", b"MI"):
            raise FileFormatError(
                f"{path} starts with a MATLAB header text but has no endian mark at bytes "
                f"126-127 ({head[126:128]!r}): corrupt, or a format other than MATLAB v5/v7.3"
            )
        version = int.from_bytes(head[124:126], "little" if endian == b"IM" else "big")
        if version == 0x0100:
            return "mat5"
        if version == 0x0200:
            raise FileFormatError(
                f"{path} has a MATLAB v7.3 header but no HDF5 data after it: the file is "
                "truncated or corrupt"
            )
        raise FileFormatError(f"{path} is a MATLAB file of unknown version 0x{version:04x}")
    for offset in _HDF5_OFFSETS:
        if head[offset : offset + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE:
            return "mat73"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(_ZIP_MAGICS):
        return "npz"
    if head.startswith(_TIFF_MAGICS):
        return "tiff"
    if _envi_header_text(head) or _sibling_envi_header(path) is not None:
        return "envi"
    raise FileFormatError(
        f"cannot tell the format of {path}: {_describe_head(head)}; readable formats are MATLAB "
        ".mat (v5, v7.3), NumPy .npy/.npz, ENVI (.hdr + data) and GeoTIFF"
    )


def sniff_format(path: PathLike) -> str:
    """The format of `path` from its first bytes: one of "mat5", "mat73", "npy", "npz", "envi",
    "tiff". The extension is ignored, so a text file named `.mat` is refused rather than
    misread. An ENVI data file counts as "envi" when its header sits next to it.

    Raises FileNotFoundError for a missing file and FileFormatError for anything else, naming
    the file and what its first bytes look like.
    """
    path = _existing_file(path)
    return _sniff_head(path, _read_head(path))


# ---------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class _Entry:
    """One array of a file: its shape and dtype as the user sees them; `problem` says why it
    cannot be read as a numeric array (None when it can)."""

    shape: tuple[int, ...]
    dtype: str
    problem: str | None = None


def _describe_entries(entries: dict[str, _Entry]) -> str:
    """ "'Y' (156, 9025) float64, 'names' (1, 3) cell [a MATLAB cell]" for error messages."""
    if not entries:
        return "none"
    return ", ".join(
        f"{key!r} {entry.shape} {entry.dtype}" + (f" [{entry.problem}]" if entry.problem else "")
        for key, entry in entries.items()
    )


def _npy_entry(dtype: np.dtype, shape: tuple[int, ...]) -> _Entry:
    shape = tuple(int(n) for n in shape)
    if dtype.hasobject:
        return _Entry(shape, "object", "an object array (refused: loading it would run pickle)")
    if dtype.kind not in "biufc":
        return _Entry(shape, str(dtype), f"an array of non-numeric dtype {dtype}")
    return _Entry(shape, dtype.name)


def _read_npy_header(stream: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and header length of a .npy stream, reading only its header."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        shape, _, dtype = np.lib.format._read_array_header(stream, version)
    return tuple(shape), np.dtype(dtype), stream.tell()


def _check_npy_size(where: str, shape: tuple[int, ...], dtype: np.dtype, available: int) -> None:
    if dtype.hasobject:
        return  # refused on load; its size is not knowable from the header
    declared = math.prod(shape) * dtype.itemsize
    if declared > available:
        raise FileFormatError(
            f"{where} declares an array of shape {shape} {dtype.name} ({declared} bytes) but holds "
            f"only {available} bytes of data: the file is truncated or corrupt"
        )


class _Source:
    """A readable file: its arrays (`entries`, listed without reading data) and `load(key)`."""

    format: ClassVar[str]

    def __init__(self, path: Path, head: bytes) -> None:
        self.path = path
        self.head = head
        self.entries: dict[str, _Entry] = self._guard("list the arrays of", self._inventory)

    @property
    def format_name(self) -> str:
        return _FORMAT_NAMES[self.format]

    def _guard(self, action: str, function: Any, *args: Any) -> Any:
        """Run a library call, turning its failures on a bad file into FileFormatError."""
        with self._library_messages() as held:
            try:
                return function(*args)
            except (ExploreError, MemoryError, RecursionError):
                raise
            except Exception as exc:
                raise FileFormatError(
                    f"cannot {action} {self.path} ({self.format_name} file; corrupt or "
                    f"truncated?): {self._reason(exc, held)}"
                ) from exc

    def _library_messages(self) -> AbstractContextManager[list[str]]:
        """Collects what the reading library says beside its exceptions (GDAL: see TIFF)."""
        return contextlib.nullcontext([])

    def _reason(self, exc: BaseException, held: list[str]) -> str:
        """The words of a failure, for the FileFormatError."""
        return f"{type(exc).__name__}: {exc}"

    def arrays(self) -> dict[str, _Entry]:
        """The numeric arrays of the file."""
        return {key: entry for key, entry in self.entries.items() if entry.problem is None}

    def load(self, key: str, *, mmap: bool = False) -> np.ndarray:
        entry = self.entries.get(key)
        if entry is None:
            raise FileFormatError(
                f"{self.path} has no array {key!r}; arrays found: {_describe_entries(self.entries)}"
            )
        if entry.problem is not None:
            raise FileFormatError(f"{key!r} in {self.path} is {entry.problem}, not a numeric array")
        array = self._guard(f"read {key!r} from", self._load, key, mmap)
        if not isinstance(array, np.ndarray):
            array = np.asarray(array)
        if array.dtype.hasobject:
            raise FileFormatError(f"{key!r} in {self.path} is an object array: refused")
        if not mmap and not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array

    def metadata(self) -> dict[str, Any]:
        """Scene metadata the file declares (`wavelengths`, `rgb_bands`), if any."""
        return {}

    def _inventory(self) -> dict[str, _Entry]:
        raise NotImplementedError

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        raise NotImplementedError


# MATLAB v5 data types (miINT8 ... miUTF32); 8, 10 and 11 are reserved.
_MAT5_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MAT5_MAX_DEPTH = 64
_MAT5_NUMERIC_CLASS_IDS = frozenset(range(4, 16)) - {5}  # char, double ... uint64 (5: sparse)


class _FileStream:
    """Sequential reads and skips over an open file (skips are seeks)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def read(self, n: int) -> bytes:
        return self.stream.read(n)

    def skip(self, n: int) -> None:
        self.stream.seek(n, os.SEEK_CUR)


class _InflateStream:
    """Sequential reads and skips over a zlib stream, decompressed chunk by chunk."""

    def __init__(self, source: _FileStream, n_compressed: int) -> None:
        import zlib

        self.source, self.left = source, n_compressed
        self.inflater = zlib.decompressobj()
        self.buffer = b""

    def _fill(self, n: int) -> None:
        while len(self.buffer) < n:
            if self.inflater.unconsumed_tail:
                chunk = self.inflater.unconsumed_tail
            elif self.left > 0:
                chunk = self.source.read(min(self.left, 1 << 16))
                self.left -= len(chunk)
                if not chunk:
                    self.left = 0
                    return
            else:
                return
            self.buffer += self.inflater.decompress(chunk, max(n - len(self.buffer), 1 << 16))

    def read(self, n: int) -> bytes:
        self._fill(n)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def skip(self, n: int) -> None:
        while n > 0:
            step = min(n, 1 << 20)
            got = len(self.read(step))
            if got < step:
                return
            n -= got

    def remaining(self) -> bool:
        self._fill(1)
        return bool(self.buffer)


class _Mat5Walker:
    """Checks the tags of a MATLAB v5 file (see `_Mat5Source._check_extent`)."""

    def __init__(self, path: Path, byte_order: str) -> None:
        self.path, self.byte_order = path, byte_order

    def _fail(self, problem: str) -> None:
        raise FileFormatError(f"{self.path} is corrupt or truncated: {problem}")

    def _tag(self, stream: Any, where: str) -> tuple[int, int, bool]:
        tag = stream.read(8)
        if len(tag) < 8:
            self._fail(f"{where} ends inside a data element's tag")
        first, second = struct.unpack(self.byte_order + "II", tag)
        if first >> 16:  # small data element: type and size packed into the first word
            kind, n_bytes = first & 0xFFFF, first >> 16
            if kind not in _MAT5_TYPES or n_bytes > 4:
                self._fail(f"{where} holds a small data element of type {kind}, {n_bytes} bytes")
            return kind, n_bytes, True
        if first not in _MAT5_TYPES:
            self._fail(f"{where} holds a data element of unknown type {first}")
        return first, second, False

    def walk_top(self, stream: Any, size: int, compressed: bool = False) -> None:
        position, index = 0, 0
        while (size - position >= 8) if not compressed else stream.remaining():
            where = f"variable #{index + 1}"
            kind, n_bytes, small = self._tag(stream, where)
            if small:
                position += 8
                continue
            end = position + 8 + n_bytes
            if not compressed and end > size:
                raise FileFormatError(
                    f"{self.path} is truncated: its {where} needs bytes up to {end + 128} but "
                    f"the file holds {size + 128} bytes"
                )
            if kind == _MI_COMPRESSED:
                if compressed:
                    self._fail(f"{where} is compressed twice")
                inner = _InflateStream(stream, n_bytes)
                try:
                    self.walk_top(inner, 0, compressed=True)
                except ExploreError:
                    raise
                except Exception as error:  # zlib.error on a corrupt stream
                    self._fail(f"{where} does not decompress ({error})")
                stream.skip(inner.left)
            elif kind == _MI_MATRIX:
                self._walk_matrix(stream, n_bytes, where, 1)
            else:
                stream.skip(n_bytes)
            position, index = end, index + 1

    def _walk_matrix(self, stream: Any, length: int, where: str, depth: int) -> None:
        if depth > _MAT5_MAX_DEPTH:
            self._fail(f"{where} nests more than {_MAT5_MAX_DEPTH} arrays")
        consumed, index, matlab_class, is_complex = 0, 0, None, False
        while length - consumed >= 8:
            kind, n_bytes, small = self._tag(stream, where)
            if small:
                consumed, index = consumed + 8, index + 1
                continue
            padded = n_bytes + (-n_bytes % 8)
            if kind == _MI_COMPRESSED or consumed + 8 + n_bytes > length:
                self._fail(f"{where} holds an element that runs past the array it belongs to")
            body = min(padded, length - consumed - 8)
            if index == 0:  # array flags: class in the low byte, complex flag 0x800
                if kind != 6 or n_bytes != 8:
                    self._fail(f"{where} does not start with MATLAB array flags")
                flags = stream.read(8)
                if len(flags) < 8:
                    self._fail(f"{where} ends inside its array flags")
                (word,) = struct.unpack(self.byte_order + "I", flags[:4])
                matlab_class, is_complex = word & 0xFF, bool(word & 0x800)
                stream.skip(body - 8)
            elif kind == _MI_MATRIX:
                self._walk_matrix(stream, n_bytes, where, depth + 1)
                stream.skip(body - n_bytes)
            else:
                stream.skip(body)
            consumed, index = consumed + 8 + body, index + 1
        stream.skip(length - consumed)
        # flags, dimensions, name, then the real part and (complex) the imaginary part: scipy's
        # compiled reader reads a part the flags promise even when it is missing.
        if matlab_class in _MAT5_NUMERIC_CLASS_IDS and index != (5 if is_complex else 4):
            self._fail(
                f"{where} is a numeric array flagged {'complex' if is_complex else 'real'} "
                f"but holds {max(index - 3, 0)} data part(s)"
            )


class _Mat5Source(_Source):
    """MATLAB v5/v7 through scipy. Listed dtypes are MATLAB's classes; scipy returns the
    (possibly narrower) type the file stores, e.g. int16 for a double array of whole numbers."""

    format = "mat5"

    def _check_extent(self) -> None:
        """Walk every data element of the file, nested ones and compressed ones included (8-byte
        tags only; data is skipped, compressed streams decompressed chunk by chunk and dropped)
        and refuse a file whose elements run past their container or the file's end, or carry
        an unknown type. scipy lists such truncated files happily, and reading an element of an
        unknown type crashes its compiled reader (a segmentation fault)."""
        size = self.path.stat().st_size
        byte_order = "<" if self.head[126:128] == b"IM" else ">"
        with self.path.open("rb") as stream:
            stream.seek(128)
            _Mat5Walker(self.path, byte_order).walk_top(_FileStream(stream), size - 128)

    def _inventory(self) -> dict[str, _Entry]:
        from scipy.io import whosmat

        self._check_extent()
        entries = {}
        for name, shape, matlab_class in whosmat(self.path):
            shape = tuple(int(n) for n in shape)
            dtype = _MATLAB_NUMERIC_CLASSES.get(matlab_class)
            problem = None if dtype is not None else f"a MATLAB {matlab_class}"
            entries[name] = _Entry(shape, dtype or matlab_class, problem)
        return entries

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        from scipy.io import loadmat

        array = loadmat(self.path, variable_names=[key])[key]
        if not isinstance(array, np.ndarray):  # a sparse matrix listed as numeric
            kind = type(array).__name__
            raise FileFormatError(f"{key!r} in {self.path} is a {kind}, not a dense array")
        return array


class _Hdf5Source(_Source):
    """MATLAB v7.3 (or plain HDF5) through h5py. MATLAB arrays are stored with their axes
    reversed (column-major); they are transposed back so shapes match what MATLAB shows.
    Nested groups (MATLAB structs) give keys like "struct/field"."""

    format = "mat73"

    def _is_matlab(self, dataset: Any) -> bool:
        return self.head.startswith(b"MATLAB") or "MATLAB_class" in dataset.attrs

    @staticmethod
    def _matlab_class(dataset: Any) -> str | None:
        value = dataset.attrs.get("MATLAB_class")
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes | np.bytes_) else str(value)

    def _inventory(self) -> dict[str, _Entry]:
        import h5py

        entries: dict[str, _Entry] = {}

        def visit(name: str, item: Any) -> None:
            hidden = any(part.startswith("#") for part in name.split("/"))  # #refs#, #subsystem#
            if hidden or not isinstance(item, h5py.Dataset) or "MATLAB_sparse" in item.parent.attrs:
                return
            entries[name] = self._entry(item)

        with h5py.File(self.path, "r") as file:
            file.visititems(visit)
        return entries

    def _entry(self, dataset: Any) -> _Entry:
        shape = tuple(int(n) for n in dataset.shape)
        if self._is_matlab(dataset):
            shape = shape[::-1]
        dtype = dataset.dtype
        matlab_class = self._matlab_class(dataset)
        if dataset.attrs.get("MATLAB_empty", 0):
            return _Entry((0,), matlab_class or str(dtype), "an empty MATLAB array")
        if matlab_class is not None and matlab_class not in _MATLAB_NUMERIC_CLASSES:
            return _Entry(shape, matlab_class, f"a MATLAB {matlab_class}")
        if dtype.names is not None and set(dtype.names) == {"real", "imag"}:
            return _Entry(shape, np.result_type(dtype["real"], np.complex64).name)
        if matlab_class == "logical":
            return _Entry(shape, "bool")
        return _npy_entry(dtype, shape)

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as file:
            dataset = file[key]
            array = np.asarray(dataset[()])
            if array.dtype.names is not None and set(array.dtype.names) == {"real", "imag"}:
                array = array["real"] + 1j * array["imag"]
            if self._matlab_class(dataset) == "logical":
                array = array.astype(bool)
            if self._is_matlab(dataset):
                array = np.ascontiguousarray(array.T)
        return array


class _NpySource(_Source):
    """A single NumPy array, listed under the key "array"."""

    format = "npy"
    key = "array"

    def _inventory(self) -> dict[str, _Entry]:
        with self.path.open("rb") as stream:
            shape, dtype, header_length = _read_npy_header(stream)
        _check_npy_size(str(self.path), shape, dtype, self.path.stat().st_size - header_length)
        return {self.key: _npy_entry(dtype, shape)}

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        return np.load(self.path, allow_pickle=False, mmap_mode="r" if mmap else None)


class _NpzSource(_Source):
    """A NumPy .npz archive (a zip of .npy members); headers are read without the data."""

    format = "npz"

    def _inventory(self) -> dict[str, _Entry]:
        entries = {}
        check_zip_sizes(self.path)
        with zipfile.ZipFile(self.path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[: -len(".npy")]
                with archive.open(info) as member:
                    shape, dtype, header_length = _read_npy_header(member)
                where = f"member {key!r} of {self.path}"
                _check_npy_size(where, shape, dtype, info.file_size - header_length)
                entries[key] = _npy_entry(dtype, shape)
        return entries

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        with np.load(self.path, allow_pickle=False) as archive:
            return archive[key]


class _EnviSource(_Source):
    """An ENVI image: a text header plus a raw data file next to it, read through `spectral`.
    The path may name either file. The image is listed as one array, "cube" (lines, samples,
    bands); raw values are kept (no reflectance scale factor applied)."""

    format = "envi"
    key = "cube"

    def __init__(self, path: Path, head: bytes) -> None:
        if _envi_header_text(head):
            self.header_path = path
            self.data_path = self._find_data(path)
        else:
            header = _sibling_envi_header(path)
            if header is None:  # sniffing found one; it vanished since
                raise FileFormatError(f"no ENVI header found next to {path}")
            self.header_path, self.data_path = header, path
        self.header: dict[str, Any] = {}
        super().__init__(path, head)

    @staticmethod
    def _find_data(header_path: Path) -> Path:
        stem = header_path.with_suffix("") if header_path.suffix.lower() == ".hdr" else header_path
        tried = []
        for extension in _ENVI_DATA_EXTENSIONS:
            for variant in {extension, extension.upper()}:
                candidate = stem.with_name(stem.name + variant)
                tried.append(candidate.name)
                if candidate != header_path and candidate.is_file():
                    return candidate
        raise FileFormatError(
            f"ENVI header {header_path} has no data file next to it (looked for "
            f"{', '.join(dict.fromkeys(tried))})"
        )

    def _read_header(self) -> dict[str, Any]:
        from spectral.io import envi

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # spectral warns when it lower-cases field names
            return envi.read_envi_header(str(self.header_path))

    def _header_int(self, field: str, default: int | None = None) -> int:
        value = self.header.get(field)
        if value is None:
            if default is not None:
                return default
            raise FileFormatError(f"ENVI header {self.header_path} lacks the field {field!r}")
        try:
            number = int(str(value).strip())
        except ValueError as exc:
            raise FileFormatError(
                f"ENVI header {self.header_path}: {field!r} is {value!r}, not an integer"
            ) from exc
        if number < 0:
            raise FileFormatError(
                f"ENVI header {self.header_path}: {field!r} is negative ({number})"
            )
        return number

    def _inventory(self) -> dict[str, _Entry]:
        from spectral.io import envi

        self.header = self._read_header()
        samples, lines, bands = (self._header_int(f) for f in ("samples", "lines", "bands"))
        if min(samples, lines, bands) == 0:
            raise FileFormatError(
                f"ENVI header {self.header_path} declares an empty image: {samples} samples x "
                f"{lines} lines x {bands} bands"
            )
        offset = self._header_int("header offset", default=0)
        code = str(self.header.get("data type", "")).strip()
        if code not in envi.envi_to_dtype:
            raise FileFormatError(
                f"ENVI header {self.header_path}: data type {code!r} is not one of "
                f"{sorted(envi.envi_to_dtype, key=int)}"
            )
        if str(self.header.get("file compression", "0")).strip() not in ("0", ""):
            raise FileFormatError(f"ENVI file {self.data_path} is compressed: not supported")
        dtype = np.dtype(envi.envi_to_dtype[code])
        declared = samples * lines * bands * dtype.itemsize + offset
        actual = self.data_path.stat().st_size
        if declared != actual:
            raise FileFormatError(
                f"ENVI header {self.header_path} declares {samples} samples x {lines} lines x "
                f"{bands} bands x {dtype.itemsize} bytes + {offset} header bytes = {declared} "
                f"bytes, but the data file {self.data_path} holds {actual} bytes"
            )
        return {self.key: _npy_entry(dtype, (lines, samples, bands))}

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        from spectral.io import envi

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = envi.open(str(self.header_path), str(self.data_path))
        mapped = image.open_memmap(interleave="bip")  # (lines, samples, bands)
        return mapped if mmap else np.array(mapped)

    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        wavelengths = self.header.get("wavelength")
        if isinstance(wavelengths, list) and wavelengths:
            try:
                values = np.array([float(v) for v in wavelengths])
            except ValueError as exc:
                raise FileFormatError(
                    f"ENVI header {self.header_path}: wavelengths are not numbers"
                ) from exc
            units = str(self.header.get("wavelength units", "")).strip().lower()
            # Scenes keep nanometres; headers often give micrometres (0.4 ... 2.5).
            if units in _MICROMETRE_UNITS or (not units and values.max() < 30):
                values = values * 1000.0
            metadata["wavelengths"] = values
        default_bands = self.header.get("default bands")
        n_bands = self.entries[self.key].shape[2]
        if isinstance(default_bands, list) and len(default_bands) == 3:
            # An optional display hint: a malformed one is dropped rather than refusing the image.
            with contextlib.suppress(ValueError):
                bands = tuple(int(float(b)) - 1 for b in default_bands)  # ENVI counts from 1
                if all(0 <= band < n_bands for band in bands):
                    metadata["rgb_bands"] = bands
        return metadata


MAX_TIFF_BANDS = 10_000
"""Most bands a TIFF may declare: hyperspectral sensors give hundreds; GDAL's time to read a
strip grows with the square of its bands (8,000 bands: 2 s for 10 x 10 pixels)."""

# Most bytes one stored byte can become, per TIFF compression (GDAL's names): a file declaring
# more pixels than its bytes can hold is refused before anything is allocated. Uncompressed:
# the data must be in the file; PackBits: 2 bytes make at most 128; deflate: 1032 (as .npz);
# LZW: a 9-12 bit code stands for at most 4,096 bytes. Other codecs (ZSTD, LZMA, JPEG, LERC,
# WebP, ...) have no small bound: 65,536 times, which stops only absurd declarations.
_TIFF_MAX_RATIO = {"NONE": 1, "PACKBITS": 64, "DEFLATE": _DEFLATE_MAX_RATIO, "LZW": 4096}
_TIFF_OTHER_MAX_RATIO = 1 << 16


class _GdalMessages(logging.Filter):
    """Holds back the warnings rasterio logs for GDAL (a tag ignored, a strip unreadable)
    while explore reads a TIFF in this thread: they go into the FileFormatError when the read
    fails, rather than to stderr (Python's last-resort handler) beside it."""

    LOGGERS = ("rasterio._env", "rasterio._err", "rasterio._io", "rasterio._base", "rasterio")

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()
        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        held = getattr(self.local, "held", None)
        if held is None or record.levelno < logging.WARNING:
            return True
        held.append(record.getMessage())
        return False

    @contextlib.contextmanager
    def hold(self) -> Iterator[list[str]]:
        previous = getattr(self.local, "held", None)
        self.local.held = held = [] if previous is None else previous
        try:
            with warnings.catch_warnings():
                # Benchmark scenes converted to TIFF are rarely georeferenced: not worth a word.
                warnings.filterwarnings("ignore", message=".*no geotransform")
                yield held
        finally:
            self.local.held = previous


_gdal_messages: _GdalMessages | None = None


def _import_rasterio(path: Path) -> Any:
    global _gdal_messages
    try:
        import rasterio
    except ImportError as exc:
        raise FileFormatError(
            f"{path} is a TIFF file; reading it needs rasterio: pip install explore[geotiff]"
        ) from exc
    if _gdal_messages is None:
        _gdal_messages = _GdalMessages()
    return rasterio


def _gdal_reasons(error: BaseException, held: list[str]) -> str:
    """What went wrong, from rasterio's exception chain ("Read failed. See previous exception
    ...") and the messages GDAL logged meanwhile; at most 600 characters."""
    reasons: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        if text and "see previous exception" not in text.lower():
            reasons.append(f"{type(current).__name__}: {text}")
        current = current.__cause__ or current.__context__
    reasons += held[-3:]
    text = "; ".join(dict.fromkeys(reasons)) or type(error).__name__
    return text if len(text) <= 600 else text[:597] + "..."


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class _TiffSource(_Source):
    """A (Geo)TIFF through rasterio (GDAL), listed as one array "cube" (height, width, bands).

    What is read, and what is refused (FileFormatError naming the file, before any pixel is
    read or allocated):

    - any number of bands from 1 to `MAX_TIFF_BANDS`: a 1-band TIFF is a 1-band scene (a
      panchromatic image clusters too), and is never taken as its own labels; a 1-band TIFF
      of classes serves as labels through `read_scene(labels_path=...)`;
    - integer (8-64 bit, 1-bit expanded to uint8) and float samples, pixel- or band-
      interleaved, striped or tiled, any compression GDAL decodes; complex samples are
      refused (not a reflectance cube), as are bands of different types;
    - the declared size must fit the file: width x height x bands x bits at most the file's
      bytes, times what its compression can expand to (`_TIFF_MAX_RATIO`); so sparse
      uncompressed files (blocks left out) are refused as truncated;
    - read into memory (not lazily), the cube must fit this machine's physical memory
      (DataError: read it lazily);
    - nodata: pixels are read as stored and the nodata value is not applied (a scene has no
      mask): a NaN nodata is refused like any NaN (DataError), a numeric one (e.g. -9999)
      stays a value, so crop such borders away (`Scene.crop`) before clustering;
    - georeferencing (CRS, affine transform) becomes the scene's `georeference`, so predicted
      maps written as GeoTIFF lie on the same grid; a file without one reads the same.

    GDAL's warnings about a damaged file go into the error message, not to stderr.
    """

    format = "tiff"
    key = "cube"

    def __init__(self, path: Path, head: bytes) -> None:
        self.rasterio = _import_rasterio(path)
        self.georeference: Georeference | None = None
        super().__init__(path, head)

    def _library_messages(self) -> AbstractContextManager[list[str]]:
        assert _gdal_messages is not None
        return _gdal_messages.hold()

    def _reason(self, exc: BaseException, held: list[str]) -> str:
        return _gdal_reasons(exc, held)

    def _inventory(self) -> dict[str, _Entry]:
        with self.rasterio.open(self.path) as dataset:
            height, width, count = dataset.height, dataset.width, dataset.count
            dtypes = sorted(set(dataset.dtypes))
            compression = str(dataset.tags(ns="IMAGE_STRUCTURE").get("COMPRESSION", "NONE"))
            nbits = dataset.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") if count else None
            crs, transform = dataset.crs, dataset.transform
        if min(height, width, count) < 1:
            raise FileFormatError(
                f"{self.path} declares an empty image: {height} x {width} pixels x {count} bands"
            )
        if count > MAX_TIFF_BANDS:
            raise FileFormatError(
                f"{self.path} declares {count} bands; explore reads TIFFs of at most "
                f"{MAX_TIFF_BANDS} bands (corrupt, or not a spectral cube)"
            )
        if len(dtypes) != 1:
            raise FileFormatError(f"{self.path} holds bands of different types {dtypes}")
        if dtypes[0].startswith("complex"):
            raise FileFormatError(
                f"{self.path} holds complex samples ({dtypes[0]}): explore reads real-valued "
                "cubes (reflectance, radiance, counts)"
            )
        dtype = np.dtype(dtypes[0])
        bits = int(nbits) if nbits and str(nbits).isdigit() else dtype.itemsize * 8
        declared = -(-height * width * count * bits // 8)
        stored = self.path.stat().st_size
        ratio = _TIFF_MAX_RATIO.get(compression.upper(), _TIFF_OTHER_MAX_RATIO)
        if declared > ratio * stored:
            expands = f" ({compression} expands at most {ratio} times)" if ratio > 1 else ""
            raise FileFormatError(
                f"{self.path} declares {height} x {width} pixels x {count} bands x {bits} bits = "
                f"{declared} bytes, but holds only {stored} bytes{expands}: the file is truncated "
                "or corrupt"
            )
        coefficients = tuple(float(v) for v in tuple(transform)[:6])
        if crs is not None or coefficients != (1.0, 0.0, 0.0, 0.0, 1.0, 0.0):
            if not all(math.isfinite(v) for v in coefficients):
                raise FileFormatError(
                    f"{self.path} has a broken georeference: pixel grid {coefficients}"
                )
            wkt = self._guard("read the CRS of", crs.to_wkt) if crs is not None else None
            self.georeference = Georeference(wkt, coefficients)  # type: ignore[arg-type]
        return {self.key: _npy_entry(dtype, (height, width, count))}

    def _load(self, key: str, mmap: bool) -> np.ndarray:
        shape = self.entries[self.key].shape
        nbytes = math.prod(shape) * np.dtype(self.entries[self.key].dtype).itemsize
        memory = _physical_memory()
        if memory is not None and nbytes > memory:
            raise DataError(
                f"{self.path}: its cube {shape} needs {nbytes} bytes in memory, more than this "
                f"machine's {memory}: read it lazily (read_scene(lazy=True))"
            )
        with self.rasterio.open(self.path) as dataset:
            return np.ascontiguousarray(np.moveaxis(dataset.read(), 0, -1))

    def metadata(self) -> dict[str, Any]:
        return {"georeference": self.georeference} if self.georeference is not None else {}

    def windowed(self) -> WindowedCube:
        """The cube as a `WindowedCube` reading windows through `_TiffWindows`."""
        entry = self.entries[self.key]
        profile: dict[str, Any] = {}
        if self.georeference is not None:
            from affine import Affine

            profile = {
                "crs": self.georeference.crs,
                "transform": Affine(*self.georeference.transform),
            }
        return WindowedCube(
            entry.shape,  # type: ignore[arg-type]
            entry.dtype,
            _TiffWindows(self.path, self.rasterio),
            description=f"GeoTIFF {self.path}",
            profile=profile,
        )


class _TiffWindows:
    """Reads windows of one TIFF, each thread (and process) through a dataset of its own,
    opened at its first read and kept open: opening costs about 1 ms, a patch-sized window
    0.05 ms, and a training batch reads one window per patch."""

    def __init__(self, path: Path, rasterio: Any) -> None:
        self.path, self.rasterio = path, rasterio
        self.local = threading.local()

    def _dataset(self) -> Any:
        cached = getattr(self.local, "dataset", None)
        if cached is None or cached[0] != os.getpid() or cached[1].closed:
            self.local.dataset = None  # a dataset inherited through fork is not used
            self.local.dataset = (os.getpid(), self.rasterio.open(self.path))
        return self.local.dataset[1]

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        from rasterio.windows import Window

        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        assert _gdal_messages is not None
        with _gdal_messages.hold() as held:
            try:
                return np.moveaxis(self._dataset().read(window=window), 0, -1)
            except (MemoryError, RecursionError):
                raise
            except Exception as error:  # rasterio raises its own types for bad blocks
                raise FileFormatError(
                    f"cannot read a window (rows {rows.start}-{rows.stop}, columns "
                    f"{cols.start}-{cols.stop}) of {self.path}: {_gdal_reasons(error, held)}"
                ) from error


LAZY_FORMATS = ("npy", "envi", "tiff")
"""Formats whose cube can be read lazily (memory-mapped, or by windows for GeoTIFF)."""


def _lazy_cube(source: _Source, key: str) -> np.ndarray | WindowedCube:
    """The cube `key` of `source`, memory-mapped (.npy, ENVI) or windowed (GeoTIFF)."""
    if source.format not in LAZY_FORMATS:
        raise FileFormatError(
            f"{source.path} is a {source.format_name} file: only .npy, ENVI and GeoTIFF cubes "
            "can be read lazily (save the cube with numpy.save to read it as a memory map)"
        )
    if isinstance(source, _TiffSource):
        return source._guard("open", source.windowed)
    return source.load(key, mmap=True)


_SOURCES: dict[str, type[_Source]] = {
    "mat5": _Mat5Source,
    "mat73": _Hdf5Source,
    "npy": _NpySource,
    "npz": _NpzSource,
    "envi": _EnviSource,
    "tiff": _TiffSource,
}


def _open_source(path: PathLike) -> _Source:
    path = _existing_file(path)
    head = _read_head(path)
    return _SOURCES[_sniff_head(path, head)](path, head)


# ---------------------------------------------------------------------------------- arrays
def list_arrays(path: PathLike) -> dict[str, tuple[tuple[int, ...], str]]:
    """Key -> (shape, dtype name) of every numeric array in the file, without reading the data.

    Shapes are as the user sees them (MATLAB v7.3 arrays transposed back). A .npy file has one
    key, "array"; an ENVI or TIFF image one key, "cube" (H, W, bands). For MATLAB v5 the dtype
    is MATLAB's class (a double array stored as int16 is listed as float64).
    """
    source = _open_source(path)
    return {key: (entry.shape, entry.dtype) for key, entry in source.arrays().items()}


def read_array(path: PathLike, key: str | None = None, *, mmap: bool = False) -> np.ndarray:
    """One numeric array from a file: `key`, or the file's only numeric array when key is None.

    `mmap=True` memory-maps .npy and ENVI data read-only instead of reading it (other formats
    are read into memory). Raises FileFormatError naming the keys found when the key is missing
    or, without a key, when the file holds several arrays.
    """
    source = _open_source(path)
    if key is None:
        arrays = source.arrays()
        if len(arrays) == 1 or (not arrays and len(source.entries) == 1):
            key = next(iter(arrays or source.entries))  # load() says why a non-numeric one fails
        else:
            raise FileFormatError(
                f"{source.path} holds {len(arrays)} numeric arrays, pass key= to pick one: "
                f"{_describe_entries(source.entries)}"
            )
    return source.load(key, mmap=mmap)


# ---------------------------------------------------------------------------------- scenes
def _map_shape(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The (H, W) of an array usable as a label map: 2-D, or 3-D with a single band."""
    if len(shape) == 2:
        return shape
    if len(shape) == 3 and shape[2] == 1:
        return shape[:2]
    return None


def _as_label_map(array: np.ndarray) -> np.ndarray:
    return array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array


def _labels_from_file(
    labels_path: PathLike, labels_key: str | None, spatial: tuple[int, int]
) -> tuple[np.ndarray, str]:
    """Labels from another file: `labels_key`, else its only 2-D array (or the only one of
    shape `spatial` when it holds several)."""
    source = _open_source(labels_path)
    if labels_key is None:
        maps = {k: e for k, e in source.arrays().items() if _map_shape(e.shape) is not None}
        if len(maps) > 1:
            maps = {k: e for k, e in maps.items() if _map_shape(e.shape) == spatial} or maps
        if len(maps) != 1:
            raise FileFormatError(
                f"labels file {source.path} holds {len(maps)} 2-D arrays, need exactly one (or "
                f"pass labels_key=): arrays found: {_describe_entries(source.entries)}"
            )
        labels_key = next(iter(maps))
    return source.load(labels_key), f"{labels_key!r} from {source.path}"


def _find_labels(
    source: _Source, spatial: tuple[int, int], *, exclude: str
) -> tuple[np.ndarray, str] | None:
    """The only integer 2-D array of shape `spatial` in the cube's own file other than the cube
    `exclude` (a 1-band cube is not its own labels), if any."""
    found = {}
    for key, entry in source.arrays().items():
        if key != exclude and _map_shape(entry.shape) == spatial:
            array = source.load(key)
            if np.issubdtype(array.dtype, np.integer):
                found[key] = array
    if len(found) > 1:
        raise FileFormatError(
            f"{source.path} holds several integer {spatial[0]} x {spatial[1]} arrays that could "
            f"be labels ({', '.join(map(repr, found))}): pass labels_key="
        )
    if not found:
        return None
    key, array = next(iter(found.items()))
    return array, f"{key!r} from {source.path}"


def _is_unmixing(source: _Source) -> bool:
    arrays = source.arrays()
    has_cube = any(len(entry.shape) == 3 for entry in arrays.values())
    return not has_cube and "Y" in arrays and len(arrays["Y"].shape) == 2


def read_scene(
    path: PathLike,
    *,
    cube_key: str | None = None,
    labels_key: str | None = None,
    labels_path: PathLike | None = None,
    name: str | None = None,
    class_names: tuple[str, ...] = (),
    wavelengths: np.ndarray | None = None,
    rgb_bands: tuple[int, int, int] | None = None,
    lazy: bool | None = None,
) -> Scene:
    """A `Scene` from a file of any supported format.

    `lazy`: True keeps the cube on disk (a read-only memory map for .npy and ENVI, windows for
    GeoTIFF; FileFormatError for other formats), so the scene may be larger than memory; None
    (default) does so when the cube is larger than `EXPLORE_LAZY_BYTES` (1 GiB) and its format
    allows; False reads it into memory.

    Cube (H, W, B): `cube_key`, else the file's only 3-D numeric array. Labels (H, W): from
    `labels_key` in the same file; or from `labels_path` (any format; its `labels_key` or its
    only 2-D array); or, when neither is given, the file's only integer array of shape (H, W).
    A file in the unmixing layout (2-D `Y`, no 3-D array) goes to `read_unmixing`, with
    `labels_path` as its abundances file. Wavelengths and RGB bands default to what the file
    declares (ENVI header); a GeoTIFF's CRS and pixel grid become the scene's `georeference`
    (what a GeoTIFF may hold and what is refused: `_TiffSource`). `name` defaults to the
    file's stem.
    """
    source = _open_source(path)
    name = name if name is not None else source.path.stem
    if cube_key is None and _is_unmixing(source):
        if labels_key is not None:
            raise DataError(
                f"{source.path} is in the unmixing layout (Y, A): its labels come from the "
                "abundances A, so labels_key does not apply"
            )
        scene = read_unmixing(
            source.path, abundances_path=labels_path, name=name, class_names=class_names
        )
        return replace(scene, wavelengths=wavelengths, rgb_bands=rgb_bands)

    if cube_key is None:
        cubes = [key for key, entry in source.arrays().items() if len(entry.shape) == 3]
        if len(cubes) != 1:
            kind = "several 3-D arrays (ambiguous)" if cubes else "no 3-D array"
            raise FileFormatError(
                f"{source.path} holds {kind}; pass cube_key= to pick the cube: arrays found: "
                f"{_describe_entries(source.entries)}"
            )
        cube_key = cubes[0]
    entry = source.entries.get(cube_key)
    if lazy is None and entry is not None and entry.problem is None:
        nbytes = math.prod(entry.shape) * np.dtype(entry.dtype).itemsize
        lazy = nbytes > lazy_threshold() and source.format in LAZY_FORMATS
    cube = _lazy_cube(source, cube_key) if lazy else source.load(cube_key)
    if cube.ndim != 3:
        raise DataError(
            f"cube_key {cube_key!r} in {source.path} has shape {cube.shape}; a cube needs 3 axes "
            "(H, W, bands)"
        )
    spatial = (cube.shape[0], cube.shape[1])

    if labels_path is not None:
        found = _labels_from_file(labels_path, labels_key, spatial)
    elif labels_key is not None:
        found = source.load(labels_key), f"{labels_key!r} from {source.path}"
    else:
        found = _find_labels(source, spatial, exclude=cube_key)
    labels = None
    if found is not None:
        labels, origin = found
        labels = _as_label_map(labels)
        if labels.shape != spatial:
            raise DataError(
                f"labels {origin} have shape {labels.shape}, but the cube {cube_key!r} from "
                f"{source.path} is {spatial[0]} x {spatial[1]}: do they belong to another scene?"
            )

    metadata = source.metadata()
    return _scene_from(
        source.path,
        cube=cube,
        labels=labels,
        name=name,
        class_names=tuple(class_names),
        wavelengths=wavelengths if wavelengths is not None else metadata.get("wavelengths"),
        rgb_bands=rgb_bands if rgb_bands is not None else metadata.get("rgb_bands"),
        georeference=metadata.get("georeference"),
    )


def _scene_from(path: Path, **fields: Any) -> Scene:
    """`Scene(**fields)`, its validation errors (NaN, empty cube, bad labels) naming `path`."""
    try:
        return Scene(**fields)
    except DataError as error:
        if str(path) in str(error):
            raise
        raise type(error)(f"{path}: {error}") from error


def _scalar(source: _Source, key: str) -> float | None:
    if key not in source.arrays():
        return None
    values = source.load(key).ravel()
    if values.size != 1:
        raise FileFormatError(f"{key!r} in {source.path} should be one number; got {values.size}")
    return float(values[0])


def _pixels_first(array: np.ndarray, n_pixels: int, what: str, path: Path) -> np.ndarray:
    """`array` (k, pixels) or (pixels, k) as (pixels, k)."""
    if array.ndim == 2 and array.shape[1] == n_pixels:
        return array.T
    if array.ndim == 2 and array.shape[0] == n_pixels:
        return array
    raise FileFormatError(
        f"{what} in {path} has shape {array.shape}; expected one axis of {n_pixels} pixels"
    )


def read_unmixing(
    path: PathLike,
    *,
    abundances_path: PathLike | None = None,
    name: str | None = None,
    class_names: tuple[str, ...] = (),
) -> Scene:
    """A `Scene` from an unmixing-benchmark file (Samson, Jasper Ridge, Urban style).

    `Y` (bands, pixels) holds the spectra with pixels in MATLAB column-major order, so the cube
    is `Y.T.reshape(nRow, nCol, bands, order="F")`; the image size comes from `nRow`/`nCol`, else
    the image is taken as square. `Y` is divided by `maxValue` when present. Labels (1..E) are
    the argmax over endmembers of the abundances `A` (E, pixels), from the same file or from
    `abundances_path` (Jasper Ridge ships them in a separate file); no `A`, no labels.
    """
    source = _open_source(path)
    name = name if name is not None else source.path.stem
    spectra = source.load("Y")
    if spectra.ndim != 2:
        raise FileFormatError(f"'Y' in {source.path} has shape {spectra.shape}; expected 2-D")
    n_rows, n_cols = _scalar(source, "nRow"), _scalar(source, "nCol")
    if (n_rows is None) != (n_cols is None):
        raise FileFormatError(f"{source.path} gives only one of nRow and nCol")
    if n_rows is None or n_cols is None:
        n_pixels = spectra.shape[1]
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise FileFormatError(
                f"'Y' in {source.path} has {n_pixels} pixels, not a perfect square, and the "
                "file has no nRow/nCol to give the image size"
            )
        height = width = side
    else:
        height, width = int(n_rows), int(n_cols)
    spectra = _pixels_first(spectra, height * width, "'Y'", source.path)
    max_value = _scalar(source, "maxValue")
    if max_value is not None:
        if max_value <= 0:
            raise FileFormatError(f"maxValue in {source.path} is {max_value}; must be > 0")
        spectra = spectra / max_value
    cube = spectra.reshape(height, width, spectra.shape[1], order="F")

    abundance_source = _open_source(abundances_path) if abundances_path is not None else source
    labels = None
    if "A" in abundance_source.arrays():
        abundances = abundance_source.load("A")
        abundances = _pixels_first(abundances, height * width, "'A'", abundance_source.path)
        labels = (np.argmax(abundances, axis=1) + 1).reshape(height, width, order="F")
    elif abundances_path is not None:
        raise FileFormatError(
            f"abundances file {abundance_source.path} has no 'A'; arrays found: "
            f"{_describe_entries(abundance_source.entries)}"
        )
    return _scene_from(
        source.path, cube=cube, labels=labels, name=name, class_names=tuple(class_names)
    )
