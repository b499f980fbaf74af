"""What an augmentation pool does to one patch: false-colour thumbnails of the patch and of each
drawn view, and the centre pixel's spectrum before and after.

Used by the dashboard's pool preview (`explore.dashboard.augmentation_preview`) and by
notebooks; it only draws, the views are drawn by `AugmentationPool.preview`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np

from explore.errors import DataError
from explore.viz.maps import label_palette

GAP_VALUE = 1.0  # white lines between the thumbnails of the mosaic
ORIGINAL_COLOUR = "#000000"


def _as_array(value: Any, what: str) -> np.ndarray:
    """A torch tensor or array-like as a float32 numpy array (detached, on the CPU)."""
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        value = value.detach().cpu().float().numpy()
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"{what} must be numeric; got {type(value).__name__}") from error
    return array


def _check_inputs(
    original: Any, views: Any, rgb_bands: Sequence[int], wavelengths: Any
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int], np.ndarray | None]:
    patch = _as_array(original, "original")
    if patch.ndim != 3 or min(patch.shape) == 0:
        raise DataError(f"original must be a patch (B, P, P); got shape {patch.shape}")
    drawn = _as_array(views, "views")
    if drawn.ndim != 4 or drawn.shape[0] == 0 or drawn.shape[1:] != patch.shape:
        raise DataError(
            f"views must have shape (n, {', '.join(map(str, patch.shape))}) with n >= 1 "
            f"to match the original; got {drawn.shape}"
        )
    if not (np.all(np.isfinite(patch)) and np.all(np.isfinite(drawn))):
        raise DataError("original and views must hold finite values (no NaN or Inf)")
    n_bands = patch.shape[0]
    bands = tuple(rgb_bands) if isinstance(rgb_bands, Sequence) else ()
    if len(bands) != 3 or not all(
        isinstance(b, int | np.integer) and not isinstance(b, bool) and 0 <= b < n_bands
        for b in bands
    ):
        raise DataError(f"rgb_bands must be 3 band indices in [0, {n_bands}); got {rgb_bands!r}")
    axis = None
    if wavelengths is not None:
        axis = np.asarray(wavelengths, dtype=np.float64).ravel()
        if axis.shape != (n_bands,):
            raise DataError(
                f"wavelengths must give one value per band ({n_bands}); got {axis.size}"
            )
    return patch, drawn, (int(bands[0]), int(bands[1]), int(bands[2])), axis


def _stretch(tiles: np.ndarray, percentiles: tuple[float, float]) -> np.ndarray:
    """(n, 3, P, P) -> values in [0, 1], each channel stretched between the percentiles of ALL
    tiles together, so a gain or a mask shows as a change of brightness against the original."""
    low, high = np.percentile(tiles, percentiles, axis=(0, 2, 3))  # (3,) each
    scale = np.where(high > low, high - low, 1.0)
    stretched = (tiles - low[None, :, None, None]) / scale[None, :, None, None]
    return np.clip(stretched, 0.0, 1.0)


def _mosaic(tiles: np.ndarray, columns: int) -> np.ndarray:
    """(n, 3, P, P) in [0, 1] -> one (rows * (P + 1) - 1, columns * (P + 1) - 1, 3) image, tiles
    row-major with 1 px white gaps."""
    count, _, size, _ = tiles.shape
    rows = math.ceil(count / columns)
    step = size + 1
    image = np.full((rows * step - 1, columns * step - 1, 3), GAP_VALUE, dtype=np.float32)
    for index in range(count):
        top, left = (index // columns) * step, (index % columns) * step
        image[top : top + size, left : left + size] = tiles[index].transpose(1, 2, 0)
    return image


def _labelled_mosaic(
    tiles: np.ndarray,
    names: Sequence[str],
    columns: int,
    percentiles: tuple[float, float],
    title: str,
) -> tuple[hv.RGB, hv.Labels]:
    """(n, 3, P, P) tiles as one `hv.RGB` mosaic (one shared colour stretch), and a yellow name
    in the top-left corner of each tile."""
    image = _mosaic(_stretch(tiles, percentiles), columns)
    height, width = image.shape[:2]
    step = tiles.shape[-1] + 1
    label_rows = [
        ((index % columns) * step + 0.5, height - (index // columns) * step - 0.5, name)
        for index, name in enumerate(names)
    ]
    mosaic = hv.RGB(image, bounds=(0, 0, width, height), kdims=["x", "y"]).opts(
        title=title,
        data_aspect=1,
        xaxis=None,
        yaxis=None,
        responsive=True,
        min_height=160,
        framewise=True,  # axes follow each new frame when streamed into a DynamicMap
    )
    labels = hv.Labels(label_rows, kdims=["x", "y"], vdims=["tile"]).opts(
        text_font_size="8pt",
        text_align="left",
        text_baseline="top",
        text_color="#ffff00",
    )
    return mosaic, labels


def training_pair(
    anchor: Any,
    partner: Any,
    view_a: Any,
    view_b: Any,
    rgb_bands: Sequence[int] = (0, 1, 2),
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> hv.Overlay:
    """One training pair as a twin network sees it: a pixel's patch and the view the pool drew
    from it, its partner's patch (the same pixel, or with spatial views a pixel near it) and the
    partner's view, side by side with one colour stretch. The network is trained to put
    "view 1" and "view 2" in the same cluster. Each argument is one patch (B, P, P) of the same
    shape, a torch tensor or an array; bad shapes or band indices raise DataError."""
    named = {"anchor": anchor, "view_a": view_a, "partner": partner, "view_b": view_b}
    patches = {what: _as_array(value, what) for what, value in named.items()}
    shape = patches["anchor"].shape
    for what, patch in patches.items():
        if patch.shape != shape:
            raise DataError(f"{what} has shape {patch.shape}; the anchor's is {shape}")
    stacked = np.stack(list(patches.values()))
    _, _, bands, _ = _check_inputs(stacked[0], stacked[1:], rgb_bands, None)
    mosaic, labels = _labelled_mosaic(
        stacked[:, list(bands)],
        ["pixel", "view 1", "partner", "view 2"],
        columns=4,
        percentiles=percentiles,
        title="a training pair: one cluster for views 1 and 2",
    )
    return (mosaic * labels).opts(xaxis=None, yaxis=None)


def augmentation_preview(
    original: Any,
    views: Any,
    rgb_bands: Sequence[int] = (0, 1, 2),
    wavelengths: Sequence[float] | np.ndarray | None = None,
    *,
    columns: int | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> hv.Layout:
    """Thumbnails of a patch and its augmented views, and their centre-pixel spectra.

    `original` is one patch (B, P, P) and `views` the pool's draws on it (n, B, P, P), as torch
    tensors or arrays (what `AugmentationPool.preview` returns). The mosaic (one `hv.RGB`, cheap
    to draw) shows the original first, then views 1..n, at most 10 per row unless `columns` is
    given, with one colour stretch shared by all tiles (percentiles per channel, as
    `composite_image`), so brightness changes are visible. The second panel overlays the centre
    pixel's spectrum of the original (black, thick) and of every view (one `hv.Curve` each, in
    an `hv.NdOverlay` keyed by view number) against `wavelengths` (nm) when given, else band
    index. Bad shapes, band indices or wavelengths raise DataError.
    """
    patch, drawn, bands, axis = _check_inputs(original, views, rgb_bands, wavelengths)
    count = drawn.shape[0] + 1
    if columns is None:
        columns = math.ceil(count / math.ceil(count / 10))
    elif isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise DataError(f"columns must be a positive integer; got {columns!r}")
    columns = min(columns, count)

    tiles = np.concatenate([patch[None], drawn])[:, list(bands)]  # (count, 3, P, P)
    names = ["orig", *(str(index) for index in range(1, count))]
    title = (
        f"original, then views 1..{count - 1} (R/G/B = bands {bands[0]}, {bands[1]}, {bands[2]})"
    )
    mosaic, labels = _labelled_mosaic(tiles, names, columns, percentiles, title)

    centre = patch.shape[1] // 2
    x_values = axis if axis is not None else np.arange(patch.shape[0], dtype=np.float64)
    x_dim = hv.Dimension("wavelength", unit="nm") if axis is not None else hv.Dimension("band")
    y_dim = hv.Dimension("value")
    colours = label_palette(drawn.shape[0])
    views_overlay = hv.NdOverlay(
        {
            i + 1: hv.Curve((x_values, view[:, centre, centre]), x_dim, y_dim).opts(
                color=colours[i], line_width=1, alpha=0.8, framewise=True
            )
            for i, view in enumerate(drawn)
        },
        kdims=["view"],
    )  # one NdOverlay of Curves: cheaper to render than an Overlay of as many elements
    original_curve = hv.Curve(
        (x_values, patch[:, centre, centre]), x_dim, y_dim, label="original"
    ).opts(color=ORIGINAL_COLOUR, line_width=2.5, framewise=True)
    spectra = (views_overlay * original_curve).opts(
        title="centre pixel spectrum: original (black) and views",
        show_legend=drawn.shape[0] <= 10,
        legend_position="right",
        responsive=True,
        min_height=220,
    )
    return hv.Layout([mosaic * labels, spectra]).cols(1)


__all__ = ["augmentation_preview", "training_pair"]
