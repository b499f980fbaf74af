"""`SceneView`: look at a locally available scene before clustering it.

False-colour composite with red / green / blue band pickers (wavelengths shown when known) that
redraw at once, a single-band view, the ground truth (beside the composite or overlaid on it),
the band range that trains, and a click on the composite to see that pixel's spectrum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.session import available_datasets, load_cached
from explore.data.registry import DEFAULT_SCENE, get_entry
from explore.data.scene import Scene
from explore.errors import DataError
from explore.viz import band_image, composite_image, label_map, pixel_spectrum

MAP_WIDTH = 480  # the largest frame a scene's map is drawn in (pixels), aspect ratio kept
MAP_HEIGHT = 420


def map_frame(
    shape: tuple[int, ...], max_width: int = MAP_WIDTH, max_height: int = MAP_HEIGHT
) -> dict[str, int]:
    """Bokeh frame size (`frame_width`, `frame_height` options) of a map of an (H, W, ...) scene:
    as large as fits `max_width` x `max_height` with one data unit as wide as it is tall, so
    every map of a scene keeps its aspect ratio whatever the page's width or later redraws."""
    height, width = (max(int(v), 1) for v in shape[:2])
    scale = min(max_width / width, max_height / height)
    return {
        "frame_width": max(1, round(width * scale)),
        "frame_height": max(1, round(height * scale)),
    }


def available_scenes() -> list[str]:
    """Names of hyperspectral datasets the page may load (`available_datasets`: no download,
    nothing outside the data folders), the default first."""
    names = [name for name in available_datasets() if get_entry(name).kind == "hsi"]
    return sorted(names, key=lambda name: (name != DEFAULT_SCENE, name))


def scene_axes(element: hv.Element | hv.Overlay, name: str) -> hv.Element | hv.Overlay:
    """A map with its x / y dimensions labelled by scene, so Panel links the zoom of the maps of
    one scene (composite, ground truth, cluster map) but never of two scenes: a linked range spans
    every linked plot, so a smaller scene would sit in a corner of a larger one's frame."""
    return element.redim(
        x=hv.Dimension("x", label=f"x ({name})"), y=hv.Dimension("y", label=f"y ({name})")
    )


def _load(name: str, loader: Callable[[str], Any] = load_cached) -> Scene:
    """A scene by name through `loader`: by default the dashboard's one cache of registered
    datasets (`load_cached`); a session's `TrainingSession.load` also finds its uploads."""
    scene = loader(name)
    if not isinstance(scene, Scene):
        raise DataError(f"{name!r} is an image set, not a hyperspectral scene")
    return scene


def truth_map(scene: Scene) -> np.ndarray:
    """The scene's label map, or an all-unlabelled map for a scene without one (an upload)."""
    if scene.labels is not None:
        return scene.labels
    return np.zeros(scene.shape[:2], dtype=np.int64)


class SceneView(pn.viewable.Viewer):
    """Scene picker, band pickers, composite, single band, ground truth, pixel spectrum."""

    dataset = param.Selector(default=DEFAULT_SCENE, objects=[DEFAULT_SCENE])
    red = param.Integer(default=0, bounds=(0, 1))
    green = param.Integer(default=0, bounds=(0, 1))
    blue = param.Integer(default=0, bounds=(0, 1))
    band = param.Integer(default=0, bounds=(0, 1), doc="band of the single-band view")
    train_bands = param.Range(default=(0, 1), doc="half-open band range that trains")
    overlay_truth = param.Boolean(default=False, doc="draw the ground truth over the composite")
    pixel = param.Tuple(default=(0, 0), length=2, doc="(row, col) whose spectrum is shown")

    def __init__(self, **params: Any) -> None:
        dataset = params.pop("dataset", DEFAULT_SCENE)
        self._loader: Callable[[str], Any] = params.pop("loader", load_cached)
        super().__init__(**params)
        self.param.dataset.objects = available_scenes()
        self.dataset = dataset
        self._reset_bands()
        self._tap = hv.streams.Tap(x=None, y=None)
        self._tap.add_subscriber(self._on_tap)

    @property
    def scene(self) -> Scene:
        return _load(self.dataset, self._loader)

    def add_scene(self, name: str) -> None:
        """Offer one more scene (a session's upload, which `loader` finds) in the choices."""
        if name not in self.param.dataset.objects:
            self.param.dataset.objects = [*self.param.dataset.objects, name]

    @param.depends("dataset", watch=True)
    def _reset_bands(self) -> None:
        scene = self.scene
        last = scene.n_bands - 1
        red, green, blue = scene.default_rgb_bands()
        with param.parameterized.batch_call_watchers(self):
            for name, value in (("red", red), ("green", green), ("blue", blue), ("band", green)):
                self.param[name].bounds = (0, last)
                setattr(self, name, value)
            self.param.train_bands.bounds = (0, scene.n_bands)
            self.train_bands = (0, scene.n_bands)
            height, width = scene.shape[:2]
            self.pixel = (height // 2, width // 2)

    def _on_tap(self, x: float | None = None, y: float | None = None) -> None:
        """A click at plot coordinates (x, y) selects pixel (row, col) (row 0 on top)."""
        if x is None or y is None:
            return
        height, width = self.scene.shape[:2]
        col, row = int(x), int(height - y)
        if 0 <= row < height and 0 <= col < width:
            self.pixel = (row, col)

    def band_label(self, band: int) -> str:
        """'band 42 (705 nm)' when the wavelength is known, 'band 42' otherwise."""
        wavelengths = self.scene.wavelengths
        return f"band {band}" + (
            f" ({wavelengths[band]:.0f} nm)" if wavelengths is not None else ""
        )

    # ------------------------------------------------------------------ views
    @param.depends("dataset", "red", "green", "blue", "overlay_truth")
    def composite(self) -> hv.Overlay:
        """The composite with the ground truth over it, drawn transparent unless
        `overlay_truth`: always the same kind of element (an overlay), as a DynamicMap needs."""
        scene = self.scene
        element = composite_image(scene, (self.red, self.green, self.blue)).opts(
            tools=["tap"], **map_frame(scene.shape)
        )
        truth = label_map(truth_map(scene), title="").opts(
            alpha=0.55 if self.overlay_truth else 0.0, clipping_colors={}
        )
        return scene_axes(element * truth, self.dataset)

    @param.depends("dataset")
    def composite_plot(self) -> hv.DynamicMap:
        """The composite as a DynamicMap that redraws in place when a band changes and reports
        clicks (pixel spectrum); a new one per scene, so its axes fit that scene."""
        dynamic = hv.DynamicMap(self.composite)
        self._tap.source = dynamic
        return dynamic

    @param.depends("dataset", "band")
    def single_band(self) -> hv.Image:
        element = band_image(self.scene, self.band).opts(**map_frame(self.scene.shape))
        return scene_axes(element, self.dataset)

    @param.depends("dataset")
    def ground_truth(self) -> hv.Image:
        scene = self.scene
        element = label_map(
            truth_map(scene),
            title=f"{scene.name}: ground truth" + ("" if scene.labels is not None else " (none)"),
        ).opts(**map_frame(scene.shape))
        return scene_axes(element, self.dataset)

    @param.depends("dataset", "pixel")
    def spectrum(self) -> hv.Curve:
        row, col = self.pixel
        return pixel_spectrum(self.scene, row, col).opts(responsive=True, height=260)

    @param.depends("dataset", "red", "green", "blue", "train_bands")
    def band_summary(self) -> pn.pane.Markdown:
        start, stop = self.train_bands
        return pn.pane.Markdown(
            f"R: {self.band_label(self.red)}, G: {self.band_label(self.green)}, "
            f"B: {self.band_label(self.blue)}  \n"
            + (
                f"Training bands: {start}..{stop - 1} ({stop - start} of {self.scene.n_bands})"
                if stop > start
                else f"Training bands: none selected (0 of {self.scene.n_bands}): Start will "
                "refuse to train"
            )
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
        """Band pickers, training band range and the overlay switch (for the sidebar)."""
        return pn.Column(
            pn.widgets.IntSlider.from_param(
                self.param.red, name="Red band", css_classes=["red-band"]
            ),
            pn.widgets.IntSlider.from_param(
                self.param.green, name="Green band", css_classes=["green-band"]
            ),
            pn.widgets.IntSlider.from_param(
                self.param.blue, name="Blue band", css_classes=["blue-band"]
            ),
            pn.widgets.IntRangeSlider.from_param(
                self.param.train_bands, name="Training bands", css_classes=["train-bands"]
            ),
            pn.widgets.Checkbox.from_param(
                self.param.overlay_truth, name="Overlay ground truth", css_classes=["overlay-truth"]
            ),
            self.band_summary,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(
                pn.Column(
                    pn.panel(self.composite_plot, sizing_mode="fixed"),
                    css_classes=["composite-plot"],
                ),
                pn.panel(self.ground_truth, sizing_mode="fixed"),
            ),
            pn.Row(
                pn.Column(
                    pn.widgets.IntSlider.from_param(self.param.band, name="Single band"),
                    pn.panel(self.single_band, sizing_mode="fixed"),
                ),
                pn.Column(
                    pn.pane.Markdown("Click the composite to see a pixel's spectrum."),
                    pn.panel(self.spectrum),
                ),
            ),
            self.legend,
            sizing_mode="stretch_width",
        )
