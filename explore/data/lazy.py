"""Lazy cubes: scenes larger than memory, read by windows, tiles and patches.

This module owns what lets a `Scene` hold a cube that is not in memory and the reads that keep
memory bounded by a tile rather than by the scene:

- the lazy cubes themselves: a read-only memory map (`.npy` through `np.load(mmap_mode="r")`,
  ENVI through `spectral`'s memory map) or a `WindowedCube` (a GeoTIFF read window by window
  through rasterio); `lazy_threshold` (the `EXPLORE_LAZY_BYTES` size above which readers return
  one);
- border arithmetic shared with the in-memory `PatchSampler` (`source_positions`), so a tile
  read with its halo (`read_halo_block`; what dense inference runs on) or a patch read by index
  (`read_patches`) holds exactly the values the padded in-memory cube would give (reflect
  padding at the scene's true border);
- bounded reads: windows (`read_window`), pixel samples in any order (`gather_pixels`), the tile
  grid (`tile_grid`, `default_tile_size`);
- label maps written tile by tile (`label_map_file`: a memory-mapped `.npy` or a GeoTIFF,
  renamed into place only once complete; also filled by several processes at once, each
  writing its own tiles, for a prediction sharded across a `torchrun` group).

Pages of a memory map that a read touched are handed back to the operating system after the read
(`release_pages`), so the process's resident memory stays flat however large the file. Values
are checked for NaN / Inf window by window, as they are read (a lazy scene is not scanned up
front): a bad value raises `DataError` naming where it is.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explore.errors import DataError, FileFormatError
from explore.outputs import fsync_file, fsync_folder, remove_stale_temporaries
from explore.params import whole_number

if TYPE_CHECKING:
    from explore.data.scene import Scene

LAZY_BYTES_ENV = "EXPLORE_LAZY_BYTES"
DEFAULT_LAZY_BYTES = 1 << 30
"""Cubes larger than this (1 GiB, or `EXPLORE_LAZY_BYTES`) are read lazily by default."""

DEFAULT_TILE_BYTES = 64 << 20
"""Raw bytes of one tile read with its halo (float32): sets the default tile side."""

PixelTransform = Callable[[np.ndarray], np.ndarray]
"""(n, B) raw pixels -> (n, C) float32 (e.g. `SpectralPreprocessor.transform_pixels`)."""


def lazy_threshold() -> int:
    """Cube size in bytes above which readers memory-map or window the cube instead of reading
    it (`EXPLORE_LAZY_BYTES`, default 1 GiB; 0 makes every supported file lazy)."""
    value = os.environ.get(LAZY_BYTES_ENV, "").strip()
    if not value:
        return DEFAULT_LAZY_BYTES
    threshold = whole_number(value)
    if threshold is None:
        raise DataError(f"{LAZY_BYTES_ENV} must be a whole number of bytes >= 0; got {value!r}")
    return threshold


# ---------------------------------------------------------------------------- lazy cubes
WindowReader = Callable[[slice, slice], np.ndarray]
"""(rows, cols) of the file's full image, unit-step slices -> (h, w, B) array."""


class WindowedCube:
    """A (H, W, B) cube read window by window from a file (a GeoTIFF through rasterio): what a
    lazy `Scene` holds when the format cannot be memory-mapped.

    `read(rows, cols)` reads one window; slicing with two unit-step slices (`cube[r0:r1, c0:c1]`,
    what `Scene.crop` does) gives another windowed cube without reading anything; any other
    indexing, and `np.asarray(cube)`, read the whole cube. `profile` keeps the file's
    georeferencing (rasterio profile) for label maps written as GeoTIFF.
    """

    ndim = 3

    def __init__(
        self,
        shape: tuple[int, int, int],
        dtype: np.dtype | str,
        read_window: WindowReader,
        *,
        description: str = "windowed cube",
        profile: dict[str, Any] | None = None,
        origin: tuple[int, int] = (0, 0),
    ) -> None:
        if len(shape) != 3 or min(shape) < 1:
            raise DataError(f"a windowed cube needs a non-empty (H, W, B) shape; got {shape}")
        self._shape = tuple(int(v) for v in shape)
        self._dtype = np.dtype(dtype)
        self._read_window = read_window
        self.description = description
        self.profile = profile
        self._origin = (int(origin[0]), int(origin[1]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def size(self) -> int:
        return math.prod(self._shape)

    @property
    def nbytes(self) -> int:
        return self.size * self._dtype.itemsize

    @property
    def origin(self) -> tuple[int, int]:
        """(row, col) of this cube's first pixel in the file's full image."""
        return self._origin

    def _bounds(self, key: slice, size: int, axis: str) -> tuple[int, int]:
        start, stop, step = key.indices(size)
        if step != 1:
            raise DataError(f"windowed cubes are read with unit-step {axis} slices; got {key}")
        return start, max(start, stop)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """The (h, w, B) window `rows` x `cols` (unit-step slices, relative to this cube)."""
        top, bottom = self._bounds(rows, self._shape[0], "row")
        left, right = self._bounds(cols, self._shape[1], "column")
        row0, col0 = self._origin
        window = self._read_window(
            slice(row0 + top, row0 + bottom), slice(col0 + left, col0 + right)
        )
        expected = (bottom - top, right - left, self._shape[2])
        if window.shape != expected:
            raise FileFormatError(
                f"{self.description}: a window read gave shape {window.shape}, expected {expected}"
            )
        return window

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) in (2, 3):
            rows, cols = key[0], key[1]
            all_bands = len(key) == 2 or key[2] == slice(None)
            unit = all(isinstance(k, slice) and k.step in (None, 1) for k in (rows, cols))
            if unit and all_bands:
                top, bottom = self._bounds(rows, self._shape[0], "row")
                left, right = self._bounds(cols, self._shape[1], "column")
                return WindowedCube(
                    (bottom - top, right - left, self._shape[2]),
                    self._dtype,
                    self._read_window,
                    description=self.description,
                    profile=self.profile,
                    origin=(self._origin[0] + top, self._origin[1] + left),
                )
        return np.asarray(self)[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.read(slice(None), slice(None))
        return array if dtype is None else array.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        height, width, bands = self._shape
        return f"WindowedCube({height} x {width} x {bands} {self._dtype}, {self.description})"


def is_lazy(cube: Any) -> bool:
    """Whether `cube` is read on demand (a memory map or a `WindowedCube`), not held in memory."""
    return isinstance(cube, np.memmap | WindowedCube)


def release_pages(array: Any) -> None:
    """Hand the pages of a memory-mapped array back to the operating system (writable maps are
    flushed first): the data stay in the file and the page cache, but no longer count in this
    process's resident memory. A no-op for anything else."""
    mapping = getattr(array, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    with contextlib.suppress(OSError, ValueError):
        if getattr(array, "mode", "r") in ("r+", "w+"):
            mapping.flush()
        mapping.madvise(mmap.MADV_DONTNEED)


# ---------------------------------------------------------------------------- positions
def source_positions(positions: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Source position, in [0, size), of each (possibly out-of-range) position along an axis of
    `size` pixels; -1 marks positions that "zeros" padding fills with zeros.

    "reflect" mirrors about the edge pixel without repeating it (numpy's and torch's
    "reflect"); beyond one reflection it keeps reflecting, as `numpy.pad` does. "replicate"
    repeats the edge pixel. The in-memory `PatchSampler` pads with these positions and the
    tiled, lazy reads here use them for halos and patches, so both give the same values.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if mode == "zeros":
        return np.where((positions >= 0) & (positions < size), positions, -1)
    if mode == "replicate" or size == 1:
        return positions.clip(0, size - 1)
    if mode != "reflect":
        raise DataError(f"padding mode must be reflect, replicate or zeros; got {mode!r}")
    period = 2 * (size - 1)
    folded = np.remainder(positions, period)
    return np.where(folded >= size, period - folded, folded)


# ---------------------------------------------------------------------------- reads
def _file_of(cube: Any) -> str:
    """ " of GeoTIFF /x.tif" / " of /x.npy" for messages about a file-backed cube, else ""."""
    if isinstance(cube, WindowedCube):
        return f" of {cube.description}"
    filename = getattr(cube, "filename", None)
    return f" of {filename}" if filename else ""


def first_non_finite(block: np.ndarray) -> tuple[int, str, int, int, int] | None:
    """None when every value of an (H, W, bands) block is finite; else (how many are not, "NaN"
    or "Inf" for the first in row-major order, its row, column and band)."""
    finite = np.isfinite(block)
    if finite.all():
        return None
    bad = np.argwhere(~finite)
    row, col, band = (int(v) for v in bad[0])
    return len(bad), "NaN" if np.isnan(block[row, col, band]) else "Inf", row, col, band


def _check_finite(block: np.ndarray, row0: int, col0: int, where: str = "") -> None:
    found = first_non_finite(block)
    if found is None:
        return
    count, kind, row, col, band = found
    raise DataError(
        f"cube{where} holds non-finite values ({count} in the window read at row {row0}, "
        f"column {col0}; {kind} first at row {row0 + row}, column {col0 + col}, band {band}); "
        "fill or drop them before using the scene"
    )


MAPPED_ROWS_BYTES = 32 << 20
"""A window of a memory map is copied in strips of rows spanning at most this many bytes of the
file, each strip's pages released before the next (`read_window`)."""


def read_window(cube: Any, rows: slice, cols: slice) -> np.ndarray:
    """A float32 copy of the window `rows` x `cols` (unit-step slices) of a cube of any kind
    (array, memory map, `WindowedCube`); pages of a memory map are released after the read.
    Raises DataError naming the first NaN / Inf.

    A memory map is copied in strips of rows (`MAPPED_ROWS_BYTES` of file each), releasing the
    pages after each strip: touching a row can map a whole large page-cache folio (measured: a
    259 x 259 window of a 4096 x 4096 x 100 float32 `.npy` mapped 353 MB at once), so the
    process's peak resident memory would otherwise grow with the scene's width."""
    height = cube.shape[0]
    top, bottom = rows.indices(height)[:2]
    bottom = max(top, bottom)
    if isinstance(cube, WindowedCube):
        block = np.array(cube.read(rows, cols), dtype=np.float32, copy=True)
    elif getattr(cube, "_mmap", None) is not None and bottom > top:
        strip = max(1, MAPPED_ROWS_BYTES // max(1, abs(int(cube.strides[0]))))
        first = np.asarray(cube[top : min(top + strip, bottom), cols])
        block = np.empty((bottom - top, *first.shape[1:]), dtype=np.float32)
        block[: len(first)] = first
        release_pages(cube)
        for start in range(top + strip, bottom, strip):
            stop = min(start + strip, bottom)
            block[start - top : stop - top] = cube[start:stop, cols]
            release_pages(cube)
    else:
        block = np.array(cube[rows, cols], dtype=np.float32, copy=True)
    release_pages(cube)
    left = cols.indices(cube.shape[1])[0]
    _check_finite(block, top, left, _file_of(cube))
    return block


def _apply(transform: PixelTransform | None, block: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Apply a per-pixel transform to a (..., B) block -> (..., C) float32, `chunk` pixels at a
    time (bounded temporaries)."""
    if transform is None:
        return block
    pixels = block.reshape(-1, block.shape[-1])
    first = transform(pixels[:chunk])
    out = np.empty((len(pixels), first.shape[1]), dtype=first.dtype)
    out[:chunk] = first
    for start in range(chunk, len(pixels), chunk):
        out[start : start + chunk] = transform(pixels[start : start + chunk])
    return out.reshape(*block.shape[:-1], -1)


def read_halo_block(
    cube: Any,
    rows: slice,
    cols: slice,
    radius: int,
    *,
    mode: str = "reflect",
    transform: PixelTransform | None = None,
) -> np.ndarray:
    """The tile `rows` x `cols` of a (H, W, B) cube with `radius` pixels of context on every
    side: (h + 2r, w + 2r, C) float32, ready for `PatchSampler(..., padded=True)`.

    Context inside the scene comes from the neighbouring pixels; beyond the scene's border it is
    filled by `mode` exactly as the in-memory sampler pads (reflect by default). `transform`
    (per pixel, e.g. standardisation + PCA) is applied before "zeros" padding, as in memory,
    where the preprocessed scene is padded. Only the window the tile needs is read.
    """
    height, width = cube.shape[0], cube.shape[1]
    top, bottom = rows.indices(height)[:2]
    left, right = cols.indices(width)[:2]
    row_source = source_positions(np.arange(top - radius, bottom + radius), height, mode)
    col_source = source_positions(np.arange(left - radius, right + radius), width, mode)
    inside_rows = row_source[row_source >= 0]
    inside_cols = col_source[col_source >= 0]
    row0, row1 = int(inside_rows.min()), int(inside_rows.max()) + 1
    col0, col1 = int(inside_cols.min()), int(inside_cols.max()) + 1
    # Per-pixel transform first (it commutes with gathering positions), then the halo is taken
    # from the smaller transformed window.
    window = _apply(transform, read_window(cube, slice(row0, row1), slice(col0, col1)))
    row_index = np.maximum(row_source - row0, 0)
    col_index = np.maximum(col_source - col0, 0)
    inside = np.array_equal(row_index, np.arange(row1 - row0)) and np.array_equal(
        col_index, np.arange(col1 - col0)
    )
    block = window if inside else window[row_index][:, col_index]
    if mode == "zeros":
        block[row_source < 0] = 0.0
        block[:, col_source < 0] = 0.0
    return block


def read_patches(
    cube: Any,
    rows: np.ndarray,
    cols: np.ndarray,
    patch_size: int,
    *,
    mode: str = "reflect",
    transform: PixelTransform | None = None,
) -> np.ndarray:
    """(n, p, p, C) float32 patches centred on pixels (rows[k], cols[k]) of a cube of any kind,
    padded at the scene border as the in-memory sampler pads; only the patches' pixels are read.
    `transform` is applied per pixel (before "zeros" padding)."""
    height, width = cube.shape[0], cube.shape[1]
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    cols = np.asarray(cols, dtype=np.int64).reshape(-1)
    offsets = np.arange(patch_size) - patch_size // 2
    row_source = source_positions(rows[:, None] + offsets, height, mode)  # (n, p)
    col_source = source_positions(cols[:, None] + offsets, width, mode)
    if isinstance(cube, WindowedCube):
        patches = np.empty((len(rows), patch_size, patch_size, cube.shape[2]), np.float32)
        for k in range(len(rows)):
            r, c = np.maximum(row_source[k], 0), np.maximum(col_source[k], 0)
            window = read_window(cube, slice(r.min(), r.max() + 1), slice(c.min(), c.max() + 1))
            patches[k] = window[r - r.min()][:, c - c.min()]
    else:
        rows_index = np.maximum(row_source, 0)[:, :, None]
        cols_index = np.maximum(col_source, 0)[:, None, :]
        # A memory map is read a few patches at a time, pages released after each group: every
        # row a patch touches can map a whole page-cache folio (256 random 7 x 7 patches of a
        # 4096 x 4096 x 100 .npy mapped 1.9 GB at once; in groups of 2, 70 MB, as fast).
        group = len(rows) or 1
        if getattr(cube, "_mmap", None) is not None:
            row_bytes = max(1, abs(int(cube.strides[0])))
            group = max(1, MAPPED_ROWS_BYTES // (patch_size * row_bytes))
        patches = np.empty((len(rows), patch_size, patch_size, cube.shape[2]), np.float32)
        for start in range(0, len(rows), group):
            stop = start + group
            patches[start:stop] = cube[rows_index[start:stop], cols_index[start:stop]]
            release_pages(cube)
        if not np.isfinite(patches).all():
            k = int(np.argwhere(~np.isfinite(patches))[0][0])
            raise DataError(
                f"cube{_file_of(cube)} holds non-finite values (NaN or Inf) in the patch "
                f"centred on row {int(rows[k])}, column {int(cols[k])}; fill or drop them "
                "before training"
            )
    patches = _apply(transform, patches)
    if mode == "zeros":
        patches[row_source < 0] = 0.0  # (n, p) mask over axes 0, 1
        patches.transpose(0, 2, 1, 3)[col_source < 0] = 0.0
    return patches


def gather_pixels(cube: Any, flat_indices: np.ndarray, *, chunk: int = 65_536) -> np.ndarray:
    """(n, B) float32 spectra of the pixels with flat row-major indices `flat_indices`, in the
    order given, read in sorted chunks (of a memory map: at most `chunk` pixels within a strip of
    rows, pages released after each; a `WindowedCube` read by strips of rows), so memory stays
    bounded by the chunk."""
    height, width, bands = cube.shape
    flat = np.asarray(flat_indices, dtype=np.int64).reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    out = np.empty((len(flat), bands), dtype=np.float32)
    if isinstance(cube, WindowedCube):
        strip = max(1, DEFAULT_TILE_BYTES // max(1, width * bands * 4))
        rows = ordered // width
        start = 0
        while start < len(ordered):
            top = int(rows[start])
            stop = int(np.searchsorted(rows, top + strip, side="left"))
            window = read_window(cube, slice(top, min(top + strip, height)), slice(None))
            out[start:stop] = window[rows[start:stop] - top, ordered[start:stop] % width]
            start = stop
    else:
        # Chunks of at most `chunk` pixels spanning at most a strip of rows (a memory map's
        # touched rows can each map a whole page-cache folio; see `read_window`).
        strip = height
        if getattr(cube, "_mmap", None) is not None:
            strip = max(1, MAPPED_ROWS_BYTES // max(1, abs(int(cube.strides[0]))))
        rows = ordered // width
        start = 0
        while start < len(ordered):
            limit = int(np.searchsorted(rows, rows[start] + strip, side="left"))
            stop = min(start + chunk, limit)
            part = ordered[start:stop]
            out[start:stop] = cube[part // width, part % width]
            release_pages(cube)
            start = stop
    if not np.isfinite(out).all():
        bad = int(ordered[np.argwhere(~np.isfinite(out))[0][0]])
        raise DataError(
            f"cube{_file_of(cube)} holds non-finite values (NaN or Inf), first at row "
            f"{bad // width}, column {bad % width}; fill or drop them before using the scene"
        )
    result = np.empty_like(out)
    result[order] = out
    return result


# ---------------------------------------------------------------------------- tiles
def default_tile_size(n_bands: int, radius: int, budget: int = DEFAULT_TILE_BYTES) -> int:
    """Tile side (pixels) whose float32 window with its halo stays within `budget` bytes
    (at most 512, at least 16)."""
    side = math.isqrt(max(1, budget // (4 * max(1, n_bands))))
    return int(min(512, max(16, side - 2 * radius)))


def tile_grid(height: int, width: int, tile_size: int) -> Iterator[tuple[slice, slice]]:
    """(rows, cols) slices of the tiles covering a height x width scene, row-major."""
    if tile_size < 1:
        raise DataError(f"tile_size must be >= 1; got {tile_size}")
    for top in range(0, height, tile_size):
        for left in range(0, width, tile_size):
            yield (
                slice(top, min(top + tile_size, height)),
                slice(left, min(left + tile_size, width)),
            )


# ---------------------------------------------------------------------------- label maps
def _import_rasterio(path: Path) -> Any:
    try:
        import rasterio
    except ImportError as error:
        raise FileFormatError(
            f"writing {path} as a GeoTIFF needs rasterio: pip install explore[geotiff] (or write "
            "a .npy map)"
        ) from error
    return rasterio


def _map_georeference(like: Scene | None) -> dict[str, Any]:
    """The `crs` / `transform` profile entries of a map of `like` (empty when it has none):
    the scene's georeference, else (a scene built around a `WindowedCube` by hand) its cube's
    rasterio profile moved to the cube's origin."""
    from affine import Affine  # installed with rasterio

    georeference = getattr(like, "georeference", None)
    cube = getattr(like, "cube", None)
    if georeference is not None:
        crs, (a, b, c, d, e, f), (row, col) = georeference.crs, georeference.transform, (0, 0)
    elif isinstance(cube, WindowedCube) and cube.profile and cube.profile.get("transform"):
        crs, (row, col) = cube.profile.get("crs"), cube.origin
        a, b, c, d, e, f = tuple(cube.profile["transform"])[:6]
    else:
        return {}
    profile: dict[str, Any] = {
        "transform": Affine(a, b, a * col + b * row + c, d, e, d * col + e * row + f)
    }
    if crs is not None:
        profile["crs"] = crs
    return profile


def _map_profile(source: np.ndarray, like: Scene | None) -> dict[str, Any]:
    """The rasterio profile of a single-band GeoTIFF of the (H, W) map `source` (tiled,
    deflate), on the pixel grid of `like` when it is georeferenced."""
    height, width = source.shape
    return {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": source.dtype.name,
        "tiled": True,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
        **_map_georeference(like),
    }


def is_georeferenced(like: Scene | None) -> bool:
    """Whether maps of `like` can be written on its georeference (it came from a GeoTIFF that
    has one, or is read window by window from one); writing them needs rasterio
    (`explore[geotiff]`)."""
    if getattr(like, "georeference", None) is not None:
        return True
    cube = getattr(like, "cube", None)
    return isinstance(cube, WindowedCube) and bool(cube.profile and cube.profile.get("transform"))


def geotiff_bytes(labels: np.ndarray, like: Scene) -> bytes:
    """The (H, W) map `labels` as the bytes of a single-band GeoTIFF on the georeference of
    `like` (as `write_label_map` writes it), built in memory: for a download, not a file.
    FileFormatError without rasterio or when `like` has no georeference."""
    _import_rasterio(Path(f"{like.name}.tif"))  # a clear error without rasterio
    from rasterio.io import MemoryFile

    source = np.asarray(labels)
    profile = _map_profile(source, like)
    if "transform" not in profile:
        raise FileFormatError(f"{like.name} has no georeference: write a .npy map instead")
    with MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(source, 1)
        return memory.read()


def _write_geotiff(source: np.ndarray, path: Path, like: Scene | None) -> None:
    """Copy an (H, W) map to a single-band GeoTIFF (tiled, deflate), strip by strip, on the
    pixel grid of `like` when it is georeferenced (read from a GeoTIFF)."""
    import warnings

    rasterio = _import_rasterio(path)
    from rasterio.windows import Window

    height, width = source.shape
    profile = _map_profile(source, like)
    strip = max(1, (16 << 20) // max(1, width * source.dtype.itemsize))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no geotransform")  # not georeferenced
        with rasterio.open(path, "w", **profile) as dataset:
            for top in range(0, height, strip):
                bottom = min(top + strip, height)
                dataset.write(
                    np.asarray(source[top:bottom]), 1, window=Window(0, top, width, bottom - top)
                )
                release_pages(source)


Gather = Callable[[Any], list[Any]]
"""Every process's value, in rank order (`explore.training.distributed.all_gather_objects`)."""


def _agree(gather: Gather | None, failure: BaseException | None, stage: str) -> None:
    """Across processes: every process learns whether any failed at `stage` and raises (its
    own error, or the first failed process's, same `explore` error class) if one did."""
    if gather is None:
        if failure is not None:
            raise failure
        return
    described = None if failure is None else (type(failure).__name__, str(failure))
    reports = gather(described)
    if failure is not None:
        raise failure
    for rank, report in enumerate(reports):
        if report is not None:
            from explore import errors

            kind = getattr(errors, report[0], None)
            if not (isinstance(kind, type) and issubclass(kind, errors.ExploreError)):
                kind = errors.ExploreError
            raise kind(f"process {rank} failed while {stage}: {report[1]}")


@contextlib.contextmanager
def label_map_file(
    path: str | os.PathLike[str],
    shape: tuple[int, int],
    dtype: np.dtype | type = np.int16,
    *,
    like: Scene | None = None,
    rank: int = 0,
    world_size: int = 1,
    gather: Gather | None = None,
) -> Iterator[np.memmap]:
    """A writable (H, W) memory-mapped map to fill tile by tile; when the block ends without an
    error the file appears at `path` in one rename (never half-written under its name; fsynced
    first, so the rename survives a power loss; temporaries left by killed runs are removed).

    `.tif` / `.tiff` paths become a single-band GeoTIFF (rasterio; georeferenced like `like`'s
    cube when it came from a GeoTIFF), written from the filled map strip by strip; any other
    path gets a `.npy` file. On an error the temporary files are removed and `path` is untouched.

    Across processes (`world_size` > 1, every process calling it with its `rank` and an
    all-gather `gather`): rank 0 creates the staging file, every process maps it and writes its
    own tiles, and rank 0 renames (or converts) it into place only once every process finished
    its block without an error; then all return. If any process fails, the staging file is
    removed and every process raises. The folder must be shared by the processes (one machine,
    or a filesystem every node mounts)."""
    path = Path(path)
    shared = world_size > 1
    if shared and gather is None:
        raise DataError("a map written by several processes needs their all-gather (gather=)")
    exchange = gather if shared else None
    geotiff = path.suffix.lower() in (".tif", ".tiff")
    main = rank == 0
    staging: Path | None = None
    final_temporary: Path | None = None
    out: np.memmap | None = None
    try:
        failure: BaseException | None = None
        try:
            if geotiff:
                _import_rasterio(path)  # fail before any work
            if main:
                remove_stale_temporaries(path)  # left by a killed run
                suffix = ".npy" if geotiff else ""
                staging = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
                final_temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
                out = np.lib.format.open_memmap(
                    staging, mode="w+", dtype=np.dtype(dtype), shape=shape
                )
                out.flush()  # the header and size exist before other processes map it
        except Exception as error:  # noqa: BLE001  (reported to every process, then raised)
            failure = error
        _agree(exchange, failure, "creating the map")
        if shared:
            staging = Path(exchange(str(staging) if main else None)[0])  # type: ignore[misc]
            failure = None
            if not main:
                try:
                    out = np.lib.format.open_memmap(staging, mode="r+")
                except Exception as error:  # noqa: BLE001
                    failure = error
            _agree(exchange, failure, "opening the map")
        assert out is not None and staging is not None
        failure = None
        try:
            yield out
            out.flush()
            release_pages(out)
        except Exception as error:  # noqa: BLE001
            failure = error
        _agree(exchange, failure, "filling the map")
        failure = None
        if main:
            try:
                assert final_temporary is not None
                if geotiff:
                    _write_geotiff(out, final_temporary, like)
                complete = final_temporary if geotiff else staging
                fsync_file(complete)  # durable before the rename makes it visible
                os.replace(complete, path)
                fsync_folder(path.parent)
            except Exception as error:  # noqa: BLE001
                failure = error
        _agree(exchange, failure, "renaming the map into place")
    finally:
        del out
        if main:
            for temporary in (staging, final_temporary):
                if temporary is not None and temporary.exists():
                    temporary.unlink()
