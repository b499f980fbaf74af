"""Views: functions that return HoloViews objects, shared by the notebooks and the dashboard."""

from explore.viz.maps import band_image, composite_image, label_map, label_palette

__all__ = ["band_image", "composite_image", "label_map", "label_palette"]
