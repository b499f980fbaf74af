"""Input checks and colour rules shared by the view modules (private).

Every view that draws clusters colours cluster k exactly as `label_map(assignments,
zero_is_unlabelled=False)` does: `label_palette(n)[k]`, which does not depend on n.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from explore.errors import DataError
from explore.viz.maps import label_palette


def cluster_colours(n_clusters: int) -> list[str]:
    """Colour of clusters 0..n_clusters-1, as `label_map` draws them on a cluster map."""
    return label_palette(max(int(n_clusters), 0))


def as_assignments(assignments: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """`assignments` as an int64 array of exactly `shape` (negative = not assigned).

    Integers and booleans pass; floats pass only when every value is a whole number. `what`
    says what the shape is, for the error message (e.g. "the 145 x 145 scene")."""
    array = np.asarray(assignments)
    if array.shape != tuple(shape):
        raise DataError(
            f"assignments must have shape {tuple(shape)}, one cluster per item of {what}; "
            f"got shape {array.shape}"
        )
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise DataError("assignments hold NaN or Inf; they must be integer cluster ids")
        if not np.all(array == np.round(array)):
            raise DataError("assignments must be whole numbers (cluster ids); got fractions")
        return array.astype(np.int64)
    raise DataError(f"assignments must be integer cluster ids; got dtype {array.dtype}")


def positive_int(value: object, name: str) -> int:
    """`value` as an int >= 1, or a DataError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise DataError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def empty_overlay(kdim: hv.Dimension | str, vdim: hv.Dimension | str, title: str) -> hv.Overlay:
    """An overlay holding one empty curve: nothing is drawn but the axes keep their labels
    (an overlay with no element at all cannot be rendered by bokeh)."""
    return hv.Overlay([hv.Curve([], kdims=[kdim], vdims=[vdim])]).opts(title=title)
