"""`SceneView`: pick a locally available scene and three bands; see the false-colour composite
redraw at once next to the ground truth."""

from __future__ import annotations

import functools

import holoviews as hv
import panel as pn
import param

from explore.data.registry import DEFAULT_SCENE, is_available, list_datasets, load_scene
from explore.data.scene import Scene
from explore.viz import composite_image, label_map


def available_scenes() -> list[str]:
    """Names of hyperspectral datasets that load without a download (the default first)."""
    names = [e.name for e in list_datasets() if e.kind == "hsi" and is_available(e.name)]
    return sorted(names, key=lambda name: (name != DEFAULT_SCENE, name))


@functools.lru_cache(maxsize=4)
def _load(name: str) -> Scene:
    return load_scene(name, download=False)


class SceneView(pn.viewable.Viewer):
    """Dataset picker, red / green / blue band sliders, composite and ground truth."""

    dataset = param.Selector(default=DEFAULT_SCENE, objects=[DEFAULT_SCENE])
    red = param.Integer(default=0, bounds=(0, 1))
    green = param.Integer(default=0, bounds=(0, 1))
    blue = param.Integer(default=0, bounds=(0, 1))

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.param.dataset.objects = available_scenes()
        self._reset_bands()

    @property
    def scene(self) -> Scene:
        return _load(self.dataset)

    @param.depends("dataset", watch=True)
    def _reset_bands(self) -> None:
        scene = self.scene
        last = scene.n_bands - 1
        red, green, blue = scene.default_rgb_bands()
        with param.parameterized.batch_call_watchers(self):
            for name, value in (("red", red), ("green", green), ("blue", blue)):
                self.param[name].bounds = (0, last)
                setattr(self, name, value)

    @param.depends("dataset", "red", "green", "blue")
    def composite(self) -> hv.RGB:
        return composite_image(self.scene, (self.red, self.green, self.blue)).opts(
            responsive=True, min_height=400
        )

    @param.depends("dataset")
    def ground_truth(self) -> hv.Image:
        scene = self.scene
        return label_map(scene.labels, title=f"{scene.name}: ground truth").opts(
            responsive=True, min_height=400
        )

    @param.depends("dataset")
    def legend(self) -> pn.pane.Markdown:
        scene = self.scene
        counts = scene.class_counts()
        lines = [f"**{scene!r}**", ""]
        for index, name in enumerate(scene.class_names, start=1):
            lines.append(f"{index}. {name} ({counts.get(index, 0)} px)")
        return pn.pane.Markdown("\n".join(lines))

    def controls(self) -> pn.Column:
        return pn.Column(
            pn.widgets.Select.from_param(self.param.dataset, name="Scene"),
            pn.widgets.IntSlider.from_param(self.param.red, name="Red band"),
            pn.widgets.IntSlider.from_param(self.param.green, name="Green band"),
            pn.widgets.IntSlider.from_param(self.param.blue, name="Blue band"),
            self.legend,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(
            pn.panel(self.composite), pn.panel(self.ground_truth), sizing_mode="stretch_both"
        )
