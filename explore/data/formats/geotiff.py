"""(Geo)TIFF through the optional `rasterio` (GDAL): `_TiffSource` (what a TIFF may hold and
what is refused: band count, sample types, declared size against the file's bytes and what its
compression can expand to, nodata, georeferencing), `_TiffWindows` (windowed reads for a
`WindowedCube`, so a scene larger than memory is read tile by tile) and the capture of GDAL's
warnings into the error messages.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from explore.data.formats.common import _DEFLATE_MAX_RATIO, _Entry, _npy_entry, _Source
from explore.data.lazy import WindowedCube
from explore.data.scene import Georeference
from explore.errors import DataError, FileFormatError

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
