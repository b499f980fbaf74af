"""Format dispatch by content: `sniff_format` reads a file's first bytes (magic numbers; the
extension is ignored), `_open_source` opens it with the reader of that format, and
`list_arrays` / `read_array` give its inventory and one array. Sniffing reads only the first
few KiB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explore.data.formats.common import (
    _HDF5_OFFSETS,
    _HDF5_SIGNATURE,
    PathLike,
    _describe_entries,
    _describe_head,
    _existing_file,
    _read_head,
    _Source,
)
from explore.data.formats.envi import _envi_header_text, _EnviSource, _sibling_envi_header
from explore.data.formats.geotiff import _TiffSource
from explore.data.formats.matlab import _Hdf5Source, _Mat5Source
from explore.data.formats.numpy_files import _NpySource, _NpzSource
from explore.errors import FileFormatError

FORMATS = ("mat5", "mat73", "npy", "npz", "envi", "tiff")
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


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
