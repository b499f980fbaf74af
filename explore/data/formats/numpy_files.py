"""NumPy files: `.npy` (one array, memory-mappable) and `.npz` archives (a zip of `.npy`
members), listed from their headers without reading the data, never unpickled.
"""

from __future__ import annotations

import zipfile

import numpy as np

from explore.data.formats.common import (
    _check_npy_size,
    _Entry,
    _npy_entry,
    _read_npy_header,
    _Source,
    check_zip_sizes,
)


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
