"""The augmentation pool's preview: a fixed seed's views of one patch of a scene, drawn by the
pool of a `PoolEditor` with `explore.viz.augment.augmentation_preview`, and one training pair
(`training_pair`: the patch, a partner pixel's patch and a view of each, as the twin networks
get them), again on every change of the pool or of the preview's own parameters (pixel, patch
size, number of views, seed, the pair's window). Patches are cut by the training's
`PatchSampler`, from the scene standardised per band."""

from __future__ import annotations

import weakref
from typing import Any

import holoviews as hv
import panel as pn
import param
import torch

from explore.dashboard.pool_editor import PoolEditor
from explore.data.registry import DEFAULT_SCENE
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.training.sources import window_neighbours
from explore.viz.augment import augmentation_preview, training_pair

# The preview's patch sampler of the standardised scene, per scene object (dropped with it):
# one patch size at a time, rebuilt when the size changes.
_SAMPLERS: weakref.WeakKeyDictionary[Scene, PatchSampler] = weakref.WeakKeyDictionary()


def preview_sampler(scene: Scene, patch_size: int) -> PatchSampler:
    """A `PatchSampler` of `scene` standardised per band (`Scene.standardize`), reflect-padded
    for `patch_size`: the training's own patch cutter, so the preview shows the patches the
    methods see. Cached per scene object, so moving the pixel never recomputes it."""
    sampler = _SAMPLERS.get(scene)
    if sampler is None or sampler.patch_size != patch_size:
        sampler = PatchSampler(scene.standardize(), patch_size, padding_mode="reflect")
        _SAMPLERS[scene] = sampler
    return sampler


def _default_scene() -> Scene:
    from explore.dashboard.scene_view import _load  # the dashboard's shared scene cache

    return _load(DEFAULT_SCENE)


def _mosaic_part(data: hv.Layout) -> hv.Overlay:
    """The preview's mosaic at a fixed width (data_aspect keeps its tiles square)."""
    image, labels = data[0].values()
    # The title without its band list: a title wider than the frame shifts the frame out of
    # the plot (the bands are the scene's composite bands, shown on the Scene tab).
    title = str(image.opts.get().kwargs.get("title", "")).split(" (R/G/B")[0]
    image = image.opts(responsive=False, frame_width=PREVIEW_WIDTH, min_height=None, title=title)
    labels = labels.opts(xaxis=None, yaxis=None)  # else the overlay keeps the labels' axes
    return (image * labels).opts(xaxis=None, yaxis=None)


def _spectra_part(data: hv.Layout) -> hv.Overlay:
    """The preview's centre-pixel spectra at a fixed size (tall enough for their legend)."""
    return data[1].opts(
        responsive=False,
        width=PREVIEW_WIDTH,
        height=340,
        min_height=None,
        title="centre pixel spectrum (original: black)",
    )


PREVIEW_WIDTH = 440  # pixels: the preview's plots, beside the editor at 1600 px
PREVIEW_COLUMNS = 5  # tiles per row of the preview's mosaic


class AugmentationPreview(pn.viewable.Viewer):
    """n views of one standardised patch of `scene` drawn by the editor's pool with a fixed
    seed: thumbnails and centre-pixel spectra, redrawn when the pool or a parameter changes.

    The drawing is the `plot` pane (the mosaic) above the `spectra_plot` pane, each a
    `pn.pane.HoloViews` of a DynamicMap fed by one `Pipe`, so an update only sends new
    data); `drawn` is the last preview as a static `hv.Layout`.
    When it cannot be drawn (e.g. an even patch size) `message` (a `pn.pane.Alert`) says why
    and nothing is raised.
    """

    editor = param.ClassSelector(class_=PoolEditor, doc="whose pool is previewed")
    scene = param.ClassSelector(class_=Scene, doc="where the patch is cut")
    row = param.Integer(default=0, bounds=(0, None), doc="patch centre row")
    col = param.Integer(default=0, bounds=(0, None), doc="patch centre column")
    patch_size = param.Integer(default=11, bounds=(1, 63), doc="odd patch side, in pixels")
    n_views = param.Integer(default=8, bounds=(1, 64), doc="how many views to draw")
    seed = param.Integer(default=0, bounds=(0, None), doc="seed of the views' generator")
    pair_radius = param.Integer(
        default=2,
        bounds=(0, 10),
        doc="radius of the window the training pair's partner pixel is drawn from (0: the "
        "pixel itself; 2: the fast config's spatial views)",
    )

    def __init__(self, **params: Any) -> None:
        centre_given = "row" in params or "col" in params
        if params.get("editor") is None:
            params["editor"] = PoolEditor()
        if params.get("scene") is None:
            params["scene"] = _default_scene()
        super().__init__(**params)
        # Two panes, not one layout: a layout lines the mosaic's frame up with the spectra's
        # (after their y axis), pushing the mosaic's last tiles out of its plot.
        self.plot = pn.pane.HoloViews(None, sizing_mode="fixed", css_classes=["pool-preview"])
        self.spectra_plot = pn.pane.HoloViews(None, sizing_mode="fixed")
        self.pair_plot = pn.pane.HoloViews(None, sizing_mode="fixed", css_classes=["pair-plot"])
        self.pair_note = pn.pane.Markdown("", css_classes=["pair-note"], width=PREVIEW_WIDTH)
        self.message = pn.pane.Alert("", alert_type="warning", visible=False)
        self.drawn: hv.Layout | None = None  # the last preview drawn, as static elements
        self._drawn: tuple[Any, ...] | None = None
        self._pipe: hv.streams.Pipe | None = None
        self._frame: tuple[Any, ...] | None = None
        self._scene_changed(recentre=not centre_given)

    @param.depends("scene", watch=True)
    def _scene_changed(self, recentre: bool = True) -> None:
        """New bounds for row / col (centred on the new scene) and a redraw."""
        height, width, _ = self.scene.shape
        with param.parameterized.batch_call_watchers(self):
            self.param.row.bounds = (0, height - 1)
            self.param.col.bounds = (0, width - 1)
            if recentre or self.row >= height or self.col >= width:
                self.row, self.col = height // 2, width // 2
        self._redraw()

    def patch(self) -> torch.Tensor:
        """The standardised (B, P, P) float32 patch centred on (row, col)."""
        sampler = preview_sampler(self.scene, self.patch_size)
        return sampler.patches_at([self.row], [self.col])[0]

    def views(self, patch: torch.Tensor | None = None) -> torch.Tensor:
        """`n_views` draws of the editor's pool on the patch, (n, B, P, P), seeded by `seed`."""
        patch = self.patch() if patch is None else patch
        generator = torch.Generator(device=patch.device).manual_seed(self.seed)
        with torch.no_grad():
            return self.editor.pool.preview(patch, self.n_views, generator)

    def pair(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
        """One training pair as the deep methods form it, seeded by `seed`: the patch at
        (row, col), its partner's patch (a pixel drawn from the window of radius `pair_radius`,
        as the spatial views draw it), and one pool view of each; then the partner's row and
        column."""
        sampler = preview_sampler(self.scene, self.patch_size)
        height, width = self.scene.shape[:2]
        generator = torch.Generator().manual_seed(self.seed)
        flat = torch.tensor([self.row * width + self.col])
        partner = int(window_neighbours(flat, (height, width), self.pair_radius, generator)[0])
        partner_row, partner_col = divmod(partner, width)
        patches = sampler.patches_at([self.row, partner_row], [self.col, partner_col])
        with torch.no_grad():
            view_a = self.editor.pool(patches[:1], generator)[0]
            view_b = self.editor.pool(patches[1:], generator)[0]
        return patches[0], patches[1], view_a, view_b, partner_row, partner_col

    def _draw_pair(self) -> None:
        """Draw the training pair and say what it is (raises DataError like `layout`)."""
        anchor, partner, view_a, view_b, partner_row, partner_col = self.pair()
        rgb = self.scene.default_rgb_bands()
        element = training_pair(anchor, partner, view_a, view_b, rgb_bands=rgb)
        # Axes of its own: with the mosaic's x / y names HoloViews shares the mosaic's ranges.
        self.pair_plot.object = element.opts(
            responsive=False, frame_width=PREVIEW_WIDTH, min_height=None, shared_axes=False
        )
        if self.pair_radius == 0:
            where = "the same pixel"
        else:
            where = (
                f"pixel ({partner_row}, {partner_col}), drawn from the {2 * self.pair_radius + 1}"
                f" x {2 * self.pair_radius + 1} window around it"
            )
        self.pair_note.object = (
            f"The twin network sees **view 1** (the pool on pixel ({self.row}, {self.col})) and "
            f"**view 2** (the pool on {where}) and learns to put both in one cluster. Neighbours "
            "are mostly of one material, so pairs across a small window teach what a field has "
            "in common; the fast configs on scenes use a window of radius 2, the published "
            "methods (radius 0) the pixel itself."
        )

    def layout(self) -> hv.Layout:
        """The preview as HoloViews elements (raises DataError on a bad patch or pool)."""
        patch = self.patch()
        return augmentation_preview(
            patch,
            self.views(patch),
            rgb_bands=self.scene.default_rgb_bands(),
            wavelengths=self.scene.wavelengths,
            columns=PREVIEW_COLUMNS,  # tiles large enough to see in the preview's width
        )

    @param.depends(
        "editor.pool", "row", "col", "patch_size", "n_views", "seed", "pair_radius", watch=True
    )
    def _redraw(self) -> None:
        """Draw into `plot`, or show why not in `message` (never raises into the server).

        Skipped when nothing it depends on changed (a scene change sets row and col too)."""
        key = (self.editor.pool.to_dict(), self.scene, self.row, self.col, self.patch_size)
        key += (self.n_views, self.seed, self.pair_radius)
        if key == self._drawn:  # the scene compares by identity, the pool by its spec
            return
        self._drawn = key
        shown = (self.plot, self.spectra_plot, self.pair_plot, self.pair_note)
        try:
            layout = self.layout()
            self._draw_pair()
        except Exception as error:  # shown, not raised: the server keeps running
            self.message.object = f"Preview not drawn: {error}"
            self.message.visible = True
            for pane in shown:
                pane.visible = False
            return
        self.message.visible = False
        self.drawn = layout
        self._show(layout)
        for pane in shown:
            pane.visible = True

    def _show(self, layout: hv.Layout) -> None:
        """Stream a new frame into the plot when only the values changed (the browser patches
        its data sources: tens of ms); build a new plot when the mosaic's shape changed."""
        frame = (self.scene, self.patch_size, self.n_views)
        same = self._frame is not None and frame[0] is self._frame[0]
        if self._pipe is not None and same and frame[1:] == self._frame[1:]:
            self._pipe.send(layout)
            return
        self._pipe = hv.streams.Pipe(data=layout)
        # Fixed sizes that fit half the page's main area (beside the editor): responsive plots in
        # a layout grew wider than the page, cutting off the last views with no scroll bar.
        mosaic = hv.DynamicMap(_mosaic_part, streams=[self._pipe])
        spectra = hv.DynamicMap(_spectra_part, streams=[self._pipe])
        self.plot.object = mosaic
        self.spectra_plot.object = spectra
        self._frame = frame

    @param.depends("scene", "row", "col")
    def pixel_info(self) -> pn.pane.Markdown:
        """Which pixel the patch is centred on, and its class."""
        scene = self.scene
        text = f"pixel ({self.row}, {self.col}) of {scene.name}"
        if scene.labels is not None:
            label = int(scene.labels[self.row, self.col])
            if label == 0:
                text += ": unlabelled"
            elif scene.class_names:
                text += f": {scene.class_names[label - 1]}"
            else:
                text += f": class {label}"
        return pn.pane.Markdown(text)

    def controls(self) -> pn.FlexBox:
        """Sliders for the pixel, the patch size and the number of views; the seed."""
        return pn.FlexBox(
            pn.widgets.IntSlider.from_param(self.param.row, name="Row"),
            pn.widgets.IntSlider.from_param(self.param.col, name="Column"),
            pn.widgets.IntSlider.from_param(
                self.param.patch_size, name="Patch size", start=3, end=31, step=2
            ),
            pn.widgets.IntSlider.from_param(self.param.n_views, name="Views", start=1, end=16),
            pn.widgets.IntInput.from_param(self.param.seed, name="Seed"),
            pn.widgets.IntSlider.from_param(
                self.param.pair_radius, name="Pair window radius", css_classes=["pair-radius"]
            ),
            self.pixel_info,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.controls(),
            self.message,
            # Each plot in a column of its own: plots side by side in one column have their
            # frames lined up, which pushed the mosaic's frame out of its plot.
            pn.Column(self.plot),
            pn.Column(self.spectra_plot),
            pn.Column(self.pair_plot),
            self.pair_note,
            sizing_mode="stretch_width",
        )


__all__ = ["AugmentationPreview", "preview_sampler"]
