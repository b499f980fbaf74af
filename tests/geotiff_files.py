"""GeoTIFF files written through rasterio for the tests (tests/test_geotiff.py and the hostile
GeoTIFF cases of tests/test_hostile_inputs.py); import it only where rasterio is installed."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine  # installed with rasterio

UTM = "EPSG:32633"
GRID = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 4_100_000.0)  # 30 m pixels


def write_geotiff(
    path: Path,
    cube: np.ndarray,
    dtype: str = "float32",
    *,
    interleave: str = "pixel",
    tiled: bool = False,
    compress: str | None = None,
    nodata: float | None = None,
    georeferenced: bool = True,
    bigtiff: bool = False,
) -> Path:
    """An (H, W, B) cube as a GeoTIFF (16 x 16 tiles when `tiled`; UTM 33N on `GRID` when
    `georeferenced`)."""
    height, width, bands = cube.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": bands,
        "dtype": dtype,
        "interleave": interleave,
        "BIGTIFF": "YES" if bigtiff else "NO",
    }
    if tiled:
        profile.update(tiled=True, blockxsize=16, blockysize=16)
    if compress:
        profile["compress"] = compress
    if nodata is not None:
        profile["nodata"] = nodata
    if georeferenced:
        profile.update(crs=UTM, transform=GRID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning when not georeferenced
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(np.moveaxis(cube.astype(dtype), -1, 0))
    return path
