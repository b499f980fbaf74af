"""The unmixing layout (Samson / Jasper Ridge / Urban style): `Y` bands x pixels in MATLAB
column-major order, `A` abundances (E x pixels), image size from `nRow` / `nCol`; read as a
`Scene` by `read_unmixing`, whatever the file's format.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from explore.data.formats.common import PathLike, _describe_entries, _scene_from, _Source
from explore.data.formats.dispatch import _open_source
from explore.data.scene import Scene
from explore.errors import FileFormatError


def _is_unmixing(source: _Source) -> bool:
    arrays = source.arrays()
    has_cube = any(len(entry.shape) == 3 for entry in arrays.values())
    return not has_cube and "Y" in arrays and len(arrays["Y"].shape) == 2


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
