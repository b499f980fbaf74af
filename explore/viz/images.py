"""What each cluster of an image set looks like: sample images per cluster in one mosaic.

One RGB mosaic (rather than a layout of N x K small plots) keeps the browser fast: bokeh draws a
single image, and the y axis names each row's cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np

from explore.errors import DataError
from explore.viz._checks import as_assignments, cluster_colours, positive_int

if TYPE_CHECKING:  # explore.data.images imports torch; views stay light and duck-type the set
    from explore.data.images import ImageSet

BACKGROUND = 1.0  # white between tiles and in the empty cells of small clusters
_RANGE_TOLERANCE = 1e-4


def _as_images(images: ImageSet | np.ndarray) -> np.ndarray:
    """(N, C, H, W) float32 in [0, 1] with C = 1 or 3, from an ImageSet or an array."""
    array = np.asarray(getattr(images, "images", images))
    if array.ndim != 4:
        raise DataError(f"images must have 4 axes (N, C, H, W); got shape {array.shape}")
    n_images, channels, height, width = array.shape
    if n_images < 1 or height < 1 or width < 1:
        raise DataError(f"images are empty: shape {array.shape}")
    if channels not in (1, 3):
        raise DataError(
            f"images must have 1 (grayscale) or 3 (RGB) channels on axis 1; got {channels} "
            f"(shape {array.shape}; channels-last arrays must be transposed first)"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"images must be floats in [0, 1] or uint8; got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise DataError("images hold NaN or Inf values")
    low, high = float(array.min()), float(array.max())
    if low < -_RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise DataError(f"image values must lie in [0, 1]; got range [{low:.6g}, {high:.6g}]")
    return np.clip(array, 0.0, 1.0).astype(np.float32, copy=False)


def sample_per_cluster(
    assignments: np.ndarray, per_cluster: int = 8, seed: int = 0
) -> dict[int, np.ndarray]:
    """Up to `per_cluster` item indices of every non-empty cluster (ascending cluster id),
    drawn without replacement and sorted; negative ids (not assigned) are ignored.

    Cluster k's draw depends only on its members, `seed` and k, so it is reproducible and does
    not change when another cluster changes."""
    per_cluster = positive_int(per_cluster, "per_cluster")
    clusters = np.asarray(assignments)
    if clusters.ndim != 1:
        raise DataError(f"assignments must be a vector (N,); got shape {clusters.shape}")
    clusters = as_assignments(clusters, clusters.shape, f"{clusters.size} items")
    samples: dict[int, np.ndarray] = {}
    for k in np.unique(clusters[clusters >= 0]):
        members = np.flatnonzero(clusters == k)
        if members.size > per_cluster:
            rng = np.random.default_rng([int(seed), int(k)])
            members = np.sort(rng.choice(members, size=per_cluster, replace=False))
        samples[int(k)] = members
    return samples


def _hex_to_rgb(colour: str) -> np.ndarray:
    colour = colour.lstrip("#")
    return np.array([int(colour[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


def cluster_image_grid(
    images: ImageSet | np.ndarray,
    assignments: np.ndarray,
    per_cluster: int = 8,
    seed: int = 0,
    *,
    gap: int | None = None,
    title: str | None = None,
    palette: Sequence[str] | None = None,
    row_names: Sequence[str] | None = None,
) -> hv.RGB:
    """One mosaic of sample images per cluster: a row per non-empty cluster (ascending id),
    up to `per_cluster` images drawn reproducibly for `seed`, the y axis naming each row's
    cluster and size. Grayscale images are drawn grey, RGB images in colour.

    Layout, in image pixels (tiles H x W): `gap` pixels of white around every tile (default
    max(1, round(min(H, W) / 8))), and left of each row a strip max(2, round(W / 4)) wide in
    the cluster's `label_map` colour, so the mosaic is
    (gap + rows * (H + gap)) x (3 * gap + strip + per_cluster * W + (per_cluster - 1) * gap).
    `palette` (colour of cluster 0, 1, ..., cycled) overrides the strips' colours; `row_names`
    (indexed by cluster id) replaces "cluster k" in the row labels, e.g. class names."""
    pictures = _as_images(images)
    n_images, channels, height, width = pictures.shape
    clusters = as_assignments(assignments, (n_images,), f"the {n_images} images")
    per_cluster = positive_int(per_cluster, "per_cluster")
    samples = sample_per_cluster(clusters, per_cluster, seed)
    if not samples:
        raise DataError("no image is assigned to a cluster (every assignment is negative)")
    if gap is None:
        gap = max(1, round(min(height, width) / 8))
    elif isinstance(gap, bool) or not isinstance(gap, int | np.integer) or gap < 0:
        raise DataError(f"gap must be an integer >= 0; got {gap!r}")
    gap = int(gap)
    strip = max(2, round(width / 4))
    left = 2 * gap + strip
    n_rows = len(samples)
    mosaic_height = gap + n_rows * (height + gap)
    mosaic_width = left + per_cluster * (width + gap)
    mosaic = np.full((mosaic_height, mosaic_width, 3), BACKGROUND, dtype=np.float32)
    colours = cluster_colours(max(samples) + 1)
    if palette is not None and len(palette):  # the colour of cluster 0, 1, ... (cycled)
        colours = [str(palette[k % len(palette)]) for k in range(max(samples) + 1)]
    sizes = np.bincount(clusters[clusters >= 0])
    ticks = []
    for row, (k, members) in enumerate(samples.items()):
        top = gap + row * (height + gap)
        mosaic[top : top + height, gap : gap + strip] = _hex_to_rgb(colours[k])
        for column, index in enumerate(members):
            x0 = left + column * (width + gap)
            tile = pictures[index].transpose(1, 2, 0)  # (H, W, C)
            mosaic[top : top + height, x0 : x0 + width] = tile  # C = 1 broadcasts to grey
        # Pixel row r of the mosaic spans y in [H - r - 1, H - r): row 0 on top, as in maps.
        name = str(row_names[k]) if row_names is not None and k < len(row_names) else f"cluster {k}"
        ticks.append((mosaic_height - top - height / 2, f"{name} ({int(sizes[k])})"))
    if title is None:
        name = getattr(images, "name", None)
        title = (f"{name}: " if name else "") + f"up to {per_cluster} images per cluster"
    display_scale = max(1.0, 64.0 / width)  # small images (8 x 8 digits) drawn about 64 px
    frame_width = int(min(960, max(300, mosaic_width * display_scale)))
    element = hv.RGB(
        mosaic, bounds=(0, 0, mosaic_width, mosaic_height), kdims=["x", "y"], vdims=["R", "G", "B"]
    )
    return element.opts(
        title=title,
        yticks=ticks,
        xaxis=None,
        ylabel="",
        data_aspect=1,
        frame_width=frame_width,
        default_tools=["save", "pan", "wheel_zoom", "box_zoom", "reset"],
    )
