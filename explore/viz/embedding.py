"""Scatter plots of embeddings (UMAP of pixels or images), drawn with datashader so tens of
thousands of points stay fast, coloured like the label / cluster maps of `explore.viz.maps`.

A point of category ``v`` has the colour that `label_map` gives the value ``v``: with
``zero_is_unlabelled=True`` (ground truth of a scene) 0 is black and ``v >= 1`` takes palette
entry ``v - 1``; otherwise (clusters, image-set classes) ``v`` takes palette entry ``v``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import datashader as ds
import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np
import pandas as pd
from holoviews.operation.datashader import datashade, dynspread

from explore.errors import DataError
from explore.viz.maps import UNLABELLED_COLOUR, box_limits, label_palette

HIGHLIGHT_COLOUR = "#ff00ff"
"""Outline colour of highlighted points: magenta is absent from the glasbey palette's start."""

CategoryNames = Sequence[str] | Mapping[int, str] | None


def category_colour(value: int, *, zero_is_unlabelled: bool = False) -> str:
    """The colour `label_map` draws for label `value` (see the module docstring)."""
    if zero_is_unlabelled:
        return UNLABELLED_COLOUR if value == 0 else label_palette(value)[value - 1]
    return label_palette(value + 1)[value]


def _category_name(value: int, labels: CategoryNames) -> str:
    if labels is None:
        return str(value)
    if isinstance(labels, Mapping):
        return str(labels.get(value, value))
    return str(labels[value]) if 0 <= value < len(labels) else str(value)


def _validated(points: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"points must have shape (N, 2); got {points.shape}")
    categories = np.asarray(categories)
    if categories.shape != (points.shape[0],):
        raise DataError(
            f"categories must have shape ({points.shape[0]},) like the points; "
            f"got {categories.shape}"
        )
    if categories.size and not np.issubdtype(categories.dtype, np.integer):
        if not np.all(np.mod(categories, 1) == 0):
            raise DataError(f"categories must be integers; got dtype {categories.dtype}")
        categories = categories.astype(np.int64)
    if categories.size and categories.min() < 0:
        raise DataError(f"categories must be >= 0; got {int(categories.min())}")
    return points, categories.astype(np.int64)


def highlight_indices(highlight: np.ndarray | Sequence[int] | None, n_points: int) -> np.ndarray:
    """Indices (sorted, unique) from a boolean mask of length `n_points` or an index array."""
    if highlight is None:
        return np.empty(0, dtype=np.int64)
    array = np.asarray(highlight)
    if array.dtype == bool:
        if array.shape != (n_points,):
            raise DataError(f"a boolean highlight mask must have shape ({n_points},)")
        return np.flatnonzero(array)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    array = array.astype(np.int64).ravel()
    if array.min() < 0 or array.max() >= n_points:
        raise DataError(
            f"highlight indices must be in [0, {n_points}); got {array.min()}..{array.max()}"
        )
    return np.unique(array)


def embedding_points(
    points: np.ndarray,
    categories: np.ndarray,
    *,
    labels: CategoryNames = None,
    zero_is_unlabelled: bool = False,
    palette: Sequence[str] | None = None,
) -> tuple[hv.Points, dict[str, str]]:
    """The points as ``hv.Points`` (kdims x, y; vdim ``category``, a pandas categorical of the
    category names) and the colour key {name: colour} for datashader's ``count_cat``.
    `palette` (colour of category 0, 1, ..., cycled) overrides the `label_map` colours."""
    points, categories = _validated(points, categories)
    values = np.unique(categories)
    names = [_category_name(int(v), labels) for v in values]
    if len(set(names)) != len(names):
        raise DataError(f"category names must be distinct; got {names}")
    by_value = dict(zip(values.tolist(), names, strict=True))
    frame = pd.DataFrame(
        {
            "x": points[:, 0],
            "y": points[:, 1],
            "category": pd.Categorical(
                [by_value[int(v)] for v in categories], categories=names, ordered=True
            ),
        }
    )
    key = {
        name: (
            str(palette[int(v) % len(palette)])
            if palette is not None and len(palette)
            else category_colour(int(v), zero_is_unlabelled=zero_is_unlabelled)
        )
        for v, name in zip(values, names, strict=True)
    }
    return hv.Points(frame, kdims=["x", "y"], vdims=["category"]), key


def shaded_points(element: hv.Points, colour_key: Mapping[str, str]) -> hv.DynamicMap:
    """Datashade the points by category (``count_cat``) and spread isolated pixels; re-aggregated
    on zoom. Has the box-select tool, so a ``BoundsXY`` stream can use it as source.

    With one category (a run whose items all landed in one cluster) the points are shaded by
    their count in that category's colour: HoloViews drops the category axis of a one-category
    aggregate, and its colour key then matches nothing, so the plot would come out blank."""
    if len(colour_key) == 1:
        colour = next(iter(colour_key.values()))
        shaded = datashade(element, aggregator=ds.count(), cmap=[colour, colour], min_alpha=80)
    else:
        shaded = datashade(
            element,
            aggregator=ds.count_cat("category"),
            color_key=dict(colour_key),
            min_alpha=80,
        )
    # Padding keeps the edge points, and their spreading, inside the re-aggregated frame.
    return dynspread(shaded, threshold=0.6, max_px=3).opts(
        tools=["box_select"], active_tools=["box_select", "wheel_zoom"], padding=0.05
    )


def highlight_layer(points: np.ndarray, highlight: np.ndarray | Sequence[int] | None) -> hv.Points:
    """The highlighted points as plain (not datashaded) open circles in `HIGHLIGHT_COLOUR`."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    chosen = highlight_indices(highlight, points.shape[0])
    return hv.Points(points[chosen], kdims=["x", "y"], label="highlighted").opts(
        color=HIGHLIGHT_COLOUR, fill_alpha=0, line_width=1.5, size=7
    )


def embedding_plot(
    points: np.ndarray,
    categories: np.ndarray,
    *,
    labels: CategoryNames = None,
    highlight: np.ndarray | Sequence[int] | None = None,
    zero_is_unlabelled: bool = False,
    title: str = "embedding",
) -> hv.Overlay | hv.DynamicMap:
    """Datashaded scatter plot of a 2-D embedding coloured by category, with a legend, and the
    `highlight`ed points (boolean mask or indices) drawn on top as outlined circles.

    `labels` names the category values (sequence indexed by value, or mapping); colours follow
    `label_map` (pass ``zero_is_unlabelled=True`` for a scene's ground truth)."""
    element, key = embedding_points(
        points, categories, labels=labels, zero_is_unlabelled=zero_is_unlabelled
    )
    # HoloViews adds a legend of the categories to categorically shaded output.
    layers = shaded_points(element, key) * highlight_layer(points, highlight)
    return layers.opts(
        title=title, responsive=True, min_height=400, show_legend=True, legend_position="right"
    )


def points_of_items(
    items: Callable[[], np.ndarray] | None, wanted: np.ndarray | Sequence[int] | None
) -> np.ndarray:
    """Indices of the points whose item is among `wanted` (pixels' flat indices, or item
    indices for image sets); `items()` gives each point's item. None for either: no points
    (`items` is not called)."""
    if items is None or wanted is None:
        return np.empty(0, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64).ravel()
    return np.flatnonzero(np.isin(items(), wanted))


def selected_points(points: np.ndarray, bounds: Sequence[float] | None) -> np.ndarray:
    """Indices (sorted) of the points inside a box selection ``(x0, y0, x1, y1)``, edges included;
    the corners may come in any order. ``None`` (no selection) selects nothing."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    limits = box_limits(bounds)
    if limits is None:
        return np.empty(0, dtype=np.int64)
    x_low, x_high, y_low, y_high = limits
    inside = (
        (points[:, 0] >= x_low)
        & (points[:, 0] <= x_high)
        & (points[:, 1] >= y_low)
        & (points[:, 1] <= y_high)
    )
    return np.flatnonzero(inside)
