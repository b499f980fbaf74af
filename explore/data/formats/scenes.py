"""Scenes from files: `read_scene` picks a file's cube and labels (same file, another file, or
the file's only integer map of the cube's size), reads large cubes lazily (`.npy` and ENVI as
read-only memory maps, GeoTIFF by windows; by default above `EXPLORE_LAZY_BYTES`, 1 GiB) and
hands files in the unmixing layout to `read_unmixing`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from explore.data.formats.common import PathLike, _describe_entries, _scene_from, _Source
from explore.data.formats.dispatch import _open_source
from explore.data.formats.geotiff import _TiffSource
from explore.data.formats.unmixing import _is_unmixing, read_unmixing
from explore.data.lazy import WindowedCube, lazy_threshold
from explore.data.scene import Scene
from explore.errors import DataError, FileFormatError

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
