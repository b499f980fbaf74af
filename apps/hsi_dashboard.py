"""The explore dashboard: `panel serve apps/hsi_dashboard.py`.

Opens on the embedded default scene (Indian Pines, shipped in the tensorly wheel), so it works
offline. This file only assembles components from `explore.dashboard`."""

import holoviews as hv
import panel as pn

from explore.dashboard.scene_view import SceneView

pn.extension(sizing_mode="stretch_width")
hv.extension("bokeh")

scene_view = SceneView()
template = pn.template.FastListTemplate(
    title="explore: deep clustering of hyperspectral images",
    sidebar=[scene_view.controls()],
    main=[scene_view],
)
template.servable()
