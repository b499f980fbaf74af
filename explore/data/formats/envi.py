"""ENVI images: a text header plus a raw data file next to it, read through `spectral`
(memory-mappable); the header's declared size is checked against the data file, and its
wavelengths and default bands become scene metadata.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from explore.data.formats.common import _Entry, _npy_entry, _read_head, _Source
from explore.errors import FileFormatError

# ENVI data files sit next to their header with one of these extensions (or none).
_ENVI_DATA_EXTENSIONS = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip", ".sli")
_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "microns", "um"}


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
