"""What every format reader shares: the `_Source` base (a file's arrays listed without reading
data, `load(key)`, library failures turned into `FileFormatError`), the `_Entry` inventory row,
path and first-bytes helpers, the zip and `.npy` header size checks (declared sizes that do not
fit the file are refused before any data is read) and `_scene_from`, which names the file in a
`Scene`'s validation errors.

Every failure of the underlying libraries (scipy, h5py, numpy, spectral, rasterio) on a corrupt or
truncated file becomes a `FileFormatError` naming the file, with the library's error kept as
`__cause__`; a missing file is a `FileNotFoundError`. `.npy` files are read with
`allow_pickle=False` and object arrays are refused.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import zipfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from explore.data.scene import Scene
from explore.errors import DataError, ExploreError, FileFormatError

PathLike = str | os.PathLike[str]

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
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data by more than this


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


def _scene_from(path: Path, **fields: Any) -> Scene:
    """`Scene(**fields)`, its validation errors (NaN, empty cube, bad labels) naming `path`."""
    try:
        return Scene(**fields)
    except DataError as error:
        if str(path) in str(error):
            raise
        raise type(error)(f"{path}: {error}") from error
