"""Spectra of a scene: one pixel's spectrum, and the mean spectrum of every cluster.

The x axis is the wavelength in nm when the scene knows its wavelengths, else the band index
(e.g. after PCA), so the same view serves raw and reduced cubes.
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np

from explore.data.scene import Scene
from explore.errors import DataError
from explore.viz._checks import as_assignments, cluster_colours, empty_overlay, positive_int

REFLECTANCE = hv.Dimension("reflectance")
STD = hv.Dimension("std")


def _spectral_axis(scene: Scene) -> tuple[hv.Dimension, np.ndarray]:
    """The x dimension and its values: wavelengths (nm) when known, band indices otherwise."""
    if scene.wavelengths is not None:
        return hv.Dimension("wavelength", unit="nm"), np.asarray(scene.wavelengths, float)
    return hv.Dimension("band"), np.arange(scene.n_bands)


def _class_name(scene: Scene, row: int, col: int) -> str:
    if scene.labels is None:
        return "no ground truth"
    value = int(scene.labels[row, col])
    if value == 0:
        return "unlabelled"
    if scene.class_names:
        return f"class {value}: {scene.class_names[value - 1]}"
    return f"class {value}"


def _index(value: object, size: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DataError(f"{name} must be an integer; got {value!r}")
    if not 0 <= int(value) < size:
        raise DataError(f"{name} {value} is out of range: the scene has {size} {name}s")
    return int(value)


def pixel_spectrum(scene: Scene, row: int, col: int) -> hv.Curve:
    """The spectrum of pixel (row, col) (row 0 on top, as in the maps), titled with the pixel
    and its ground-truth class, so a click on a map can show what the pixel looks like."""
    height, width, _ = scene.shape
    row = _index(row, height, "row")
    col = _index(col, width, "column")
    kdim, x = _spectral_axis(scene)
    title = f"{scene.name}: pixel (row {row}, col {col}), {_class_name(scene, row, col)}"
    return hv.Curve((x, scene.cube[row, col, :]), kdims=[kdim], vdims=[REFLECTANCE]).opts(
        title=title, line_width=2, tools=["hover"]
    )


def cluster_mean_spectra(
    scene: Scene,
    assignments: np.ndarray,
    max_pixels: int | None = None,
    *,
    show_std: bool = True,
    seed: int = 0,
    palette: Sequence[str] | None = None,
) -> hv.Overlay:
    """Mean spectrum of every cluster (± one standard deviation as a shaded band when
    `show_std`), coloured as on `label_map(assignments, zero_is_unlabelled=False)`.

    Tells what separates the clusters physically. `assignments` is an (H, W) map of cluster
    ids; negative ids (not assigned) are ignored. `max_pixels` caps the pixels averaged per
    cluster (drawn at random, reproducibly for `seed`) to keep large scenes fast; the legend
    gives every cluster's full size. `palette` (colour of cluster 0, 1, ..., cycled) overrides
    the colours."""
    height, width, _ = scene.shape
    clusters = as_assignments(assignments, (height, width), f"the {height} x {width} scene")
    if max_pixels is not None:
        max_pixels = positive_int(max_pixels, "max_pixels")
    kdim, x = _spectral_axis(scene)
    title = f"{scene.name}: mean spectrum per cluster" + (" (± 1 std)" if show_std else "")
    flat = clusters.ravel()
    present = np.unique(flat[flat >= 0])
    if present.size == 0:
        return empty_overlay(kdim, REFLECTANCE, title)
    colours = cluster_colours(int(present.max()) + 1)
    if palette is not None and len(palette):
        colours = [str(palette[k % len(palette)]) for k in range(int(present.max()) + 1)]
    pixels = scene.pixels()
    rng = np.random.default_rng(seed)
    elements: list[hv.Element] = []
    for k in present:
        members = np.flatnonzero(flat == k)
        size = members.size
        if max_pixels is not None and size > max_pixels:
            members = np.sort(rng.choice(members, size=max_pixels, replace=False))
        block = pixels[members]
        mean = block.mean(axis=0, dtype=np.float64)
        label = f"cluster {int(k)} ({size} px)"
        colour = colours[int(k)]
        if show_std:
            std = block.std(axis=0, dtype=np.float64)
            elements.append(
                hv.Spread((x, mean, std), kdims=[kdim], vdims=[REFLECTANCE, STD], label=label).opts(
                    color=colour, fill_alpha=0.2, line_alpha=0.0
                )
            )
        elements.append(
            hv.Curve((x, mean), kdims=[kdim], vdims=[REFLECTANCE], label=label).opts(
                color=colour, line_width=2, tools=["hover"]
            )
        )
    return hv.Overlay(elements).opts(title=title, show_legend=True, legend_position="right")
