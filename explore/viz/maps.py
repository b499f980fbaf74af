"""Image-like views of a scene: false-colour composite, single band, label / cluster maps.

Every function returns a HoloViews element sized to the scene, so a composite, its ground truth
and a cluster map overlay or sit side by side with linked axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np

from explore.data.scene import Scene

UNLABELLED_COLOUR = "#000000"


def label_palette(n_labels: int) -> list[str]:
    """`n_labels` distinct colours (glasbey, made for categorical maps), as hex strings."""
    import colorcet

    base = list(colorcet.palette["glasbey_category10"])
    return [base[i % len(base)] for i in range(n_labels)]


def _bounds(height: int, width: int) -> tuple[int, int, int, int]:
    # Pixel (row, col) covers x in [col, col + 1), y in [H - row - 1, H - row): row 0 on top.
    return (0, 0, width, height)


def composite_image(
    scene: Scene, bands: Sequence[int] | None = None, *, title: str | None = None
) -> hv.RGB:
    """False-colour composite of three bands (default: the scene's natural-colour bands)."""
    bands = tuple(scene.default_rgb_bands() if bands is None else bands)
    rgb = scene.composite(bands)
    height, width, _ = scene.shape
    if title is None:  # short enough for the plot's width (a longer one was cut off)
        title = f"{scene.name}: R/G/B = " + ", ".join(str(band) for band in bands)
        if scene.wavelengths is not None:
            title += " (" + "/".join(f"{scene.wavelengths[b]:.0f}" for b in bands) + " nm)"
    return hv.RGB(rgb, bounds=_bounds(height, width), kdims=["x", "y"]).opts(
        title=title, data_aspect=1, xaxis=None, yaxis=None
    )


def band_image(scene: Scene, band: int, *, cmap: str = "gray") -> hv.Image:
    """One band as a grey-scale image, with its wavelength in the title when known."""
    if not 0 <= band < scene.n_bands:
        from explore.errors import DataError

        raise DataError(f"band {band} is out of range for a scene with {scene.n_bands} bands")
    height, width, _ = scene.shape
    label = f"band {band}"
    if scene.wavelengths is not None:
        label += f" ({scene.wavelengths[band]:.0f} nm)"
    return hv.Image(
        scene.cube[:, :, band], bounds=_bounds(height, width), kdims=["x", "y"], vdims=["value"]
    ).opts(title=label, cmap=cmap, data_aspect=1, xaxis=None, yaxis=None, colorbar=True)


def label_map(
    labels: np.ndarray,
    *,
    title: str = "labels",
    zero_is_unlabelled: bool = True,
    palette: Sequence[str] | None = None,
) -> hv.Image:
    """A categorical map of labels (H, W): ground truth (0 = unlabelled, drawn black) or cluster
    assignments (pass `zero_is_unlabelled=False` when 0 is a cluster).

    `palette` gives the colour of each value 0, 1, ... (cycled), e.g. one colour per cluster
    shared with other views; it replaces the default colours. Hover shows the label value."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        from explore.errors import DataError

        raise DataError(f"labels must be a 2-D map (H, W); got shape {labels.shape}")
    height, width = labels.shape
    n_values = int(labels.max()) + 1 if labels.size else 1
    colours = label_palette(n_values)
    if zero_is_unlabelled:
        colours = [UNLABELLED_COLOUR] + label_palette(max(n_values - 1, 1))[: n_values - 1]
    if palette is not None:
        given = [str(colour) for colour in palette]
        if not given:
            from explore.errors import DataError

            raise DataError("palette must hold at least one colour")
        colours = [given[v % len(given)] for v in range(n_values)]
    image = hv.Image(
        labels.astype(np.int32), bounds=_bounds(height, width), kdims=["x", "y"], vdims=["label"]
    )
    return image.opts(
        title=title,
        cmap=colours if len(colours) > 1 else colours * 2,
        color_levels=max(len(colours), 2),
        clim=(-0.5, max(n_values, 2) - 0.5),
        data_aspect=1,
        xaxis=None,
        yaxis=None,
        tools=["hover"],
    )


def box_limits(bounds: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """(x_low, x_high, y_low, y_high) of a box selection ``(x0, y0, x1, y1)`` whose corners may
    come in any order; None for no selection. The one reading of a drawn box (maps, plots)."""
    if bounds is None:
        return None
    if len(bounds) != 4:
        from explore.errors import DataError

        raise DataError(f"bounds must be (x0, y0, x1, y1); got {bounds!r}")
    x0, y0, x1, y1 = (float(b) for b in bounds)
    return (*sorted((x0, x1)), *sorted((y0, y1)))


def pixels_in_box(shape: tuple[int, int], bounds: Sequence[float] | None) -> np.ndarray:
    """Flat indices (row-major, sorted) of the pixels of an (H, W) map whose centres lie in a box
    ``(x0, y0, x1, y1)`` drawn on a map from this module (row 0 on top), edges included; the
    corners may come in any order. ``None`` (no box) selects nothing."""
    height, width = (int(v) for v in shape)
    limits = box_limits(bounds)
    if limits is None:
        return np.empty(0, dtype=np.int64)
    x_low, x_high, y_low, y_high = limits
    x = np.arange(width) + 0.5  # centre of column c
    y = height - np.arange(height) - 0.5  # centre of row r
    cols = np.flatnonzero((x >= x_low) & (x <= x_high))
    rows = np.flatnonzero((y >= y_low) & (y <= y_high))
    return (rows[:, None] * width + cols[None, :]).ravel().astype(np.int64)
