"""MATLAB files: v5 / v7 through scipy (`_Mat5Source`, every data element's tag walked first so
a truncated or corrupt file is refused before scipy's compiled reader sees it) and v7.3 (HDF5)
through h5py (`_Hdf5Source`, arrays transposed back to MATLAB's axis order).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from explore.data.formats.common import _Entry, _npy_entry, _Source
from explore.errors import ExploreError, FileFormatError

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
