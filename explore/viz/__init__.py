"""Views: functions that return HoloViews objects, shared by the notebooks and the dashboard."""

from explore.viz.curves import cluster_sizes, loss_curves, metric_curves
from explore.viz.embedding import category_colour, embedding_plot, selected_points
from explore.viz.images import cluster_image_grid, sample_per_cluster
from explore.viz.maps import band_image, composite_image, label_map, label_palette, pixels_in_box
from explore.viz.spectra import cluster_mean_spectra, pixel_spectrum

__all__ = [
    "band_image",
    "category_colour",
    "cluster_image_grid",
    "cluster_mean_spectra",
    "cluster_sizes",
    "composite_image",
    "embedding_plot",
    "label_map",
    "label_palette",
    "loss_curves",
    "metric_curves",
    "pixel_spectrum",
    "pixels_in_box",
    "sample_per_cluster",
    "selected_points",
]
