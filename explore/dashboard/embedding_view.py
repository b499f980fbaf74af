"""`EmbeddingView`: a UMAP of pixel (or image) features, coloured by cluster or by class; a box
selection in it selects the pixels behind the points, and pixels chosen elsewhere light up in it.

UMAP takes seconds (about 13 s for the first fit in a process on this machine), so `compute()`
runs it in a daemon thread and returns at once; the result arrives as param updates applied on
the page's own thread (`explore.dashboard.publishing.PageUpdates`; docs/stack-notes.md, section
1). Failures, in the thread or before it, land in the `error` param and an alert on the page:
the server never sees them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.publishing import PageUpdates
from explore.errors import DataError, ExploreError
from explore.transfer.embedding import subsample_indices, umap_embedding
from explore.viz.embedding import (
    embedding_points,
    highlight_layer,
    points_of_items,
    selected_points,
    shaded_points,
)

logger = logging.getLogger(__name__)

COLOR_BY = ["cluster", "class"]
NO_FEATURES = "No features yet: press 'Embed the last run' (it computes the UMAP too)."
PLOT_HEIGHT = 520


class EmbeddingView(pn.viewable.Viewer):
    """UMAP scatter of `features` with box selection mapped back to pixels.

    Rows of `features`, `assignments`, `class_labels` and `pixel_index` are the same N items.
    At most `max_points` of them (a fixed random sample, `sample_index`) are embedded.
    """

    features = param.Array(default=None, allow_None=True, doc="(N, d) features to embed")
    assignments = param.Array(default=None, allow_None=True, doc="(N,) cluster of each item")
    class_labels = param.Array(default=None, allow_None=True, doc="(N,) class of each item")
    class_names = param.List(
        default=None,
        allow_None=True,
        doc="names of the classes: of 1..C when 0 is unlabelled (a scene), else of 0..C-1",
    )
    pixel_index = param.Array(
        default=None,
        allow_None=True,
        doc="(N,) flat index of each item's pixel in the H*W map; None for image sets",
    )
    zero_is_unlabelled = param.Boolean(
        default=None,
        allow_None=True,
        doc="class 0 means unlabelled (drawn black); None: True when pixel_index is given",
    )
    cluster_palette = param.List(
        default=None,
        allow_None=True,
        doc="colour of clusters 0, 1, ... (the run's colours on the map); None: label_map's",
    )
    color_by = param.Selector(default="cluster", objects=COLOR_BY)
    max_points = param.Integer(default=5000, bounds=(16, None), doc="most items embedded")
    n_neighbors = param.Integer(default=15, bounds=(2, 200))
    min_dist = param.Number(default=0.1, bounds=(0.0, 1.0))
    seed = param.Integer(default=0, bounds=(0, None))

    status = param.String(default=NO_FEATURES)
    error = param.String(default="", doc="last failure, shown in an alert; empty when none")
    computing = param.Boolean(default=False, doc="a UMAP thread is running")
    points = param.Array(default=None, allow_None=True, doc="(n, 2) embedding of the sample")
    sample_index = param.Array(default=None, allow_None=True, doc="(n,) rows of the embedded")
    selection = param.List(default=[], doc="indices into `points` of the box selection")
    map_selection = param.List(
        default=[], doc="flat pixel indices of the selection (item indices for image sets)"
    )
    highlighted = param.List(default=[], doc="indices into `points` drawn highlighted")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._thread_key: tuple | None = None
        self._points_key: tuple | None = None
        self._generation = 0
        self.page_updates = PageUpdates()  # the UMAP thread's results are shown through it
        self._shaded: hv.DynamicMap | None = None
        self.bounds_stream = hv.streams.BoundsXY(bounds=None)
        self.bounds_stream.add_subscriber(self._on_bounds)
        self._highlight = hv.DynamicMap(self._highlight_element)
        self._alert = pn.pane.Alert("", alert_type="danger", visible=False)
        self.param.watch(self._invalidate, ["features", "pixel_index"])
        self.param.watch(self._show_error, ["error"])

    # ------------------------------------------------------------------ inputs
    def _invalidate(self, *events: Any) -> None:
        """New items: the old embedding no longer maps onto them."""
        with self._lock:
            self._generation += 1
        self.param.update(
            points=None,
            sample_index=None,
            selection=[],
            map_selection=[],
            highlighted=[],
            computing=False,  # a thread still running for the old items drops its result
            status="Press 'Compute UMAP'." if self.features is not None else NO_FEATURES,
        )

    def _show_error(self, event: Any) -> None:
        self._alert.object = self.error
        self._alert.visible = bool(self.error)

    def _fail(self, message: str) -> None:
        self.param.update(error=message, status="UMAP failed.", computing=False)

    def _checked_inputs(self) -> np.ndarray:
        """The features, after checking that every per-item array has one row per item."""
        if self.features is None:
            raise DataError("no features to embed yet")
        features = np.asarray(self.features)
        if features.ndim != 2:
            raise DataError(f"features must be (N, d); got shape {features.shape}")
        n_items = features.shape[0]
        for name in ("assignments", "class_labels", "pixel_index"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (n_items,):
                raise DataError(
                    f"{name} must have one entry per item ({n_items},); got {np.shape(value)}"
                )
        return features

    def _key(self) -> tuple:
        return (self._generation, self.n_neighbors, self.min_dist, self.max_points, self.seed)

    # ------------------------------------------------------------------ UMAP
    def compute(self, wait: bool = False, force: bool = False) -> threading.Thread | None:
        """Start UMAP of (a sample of) the features in a daemon thread and return it at once.

        A run already going for the same inputs is reused; current points are kept unless
        `force`. ``wait=True`` joins the thread (tests, scripts). Returns the thread, or None when
        nothing was started (points current, or invalid inputs: see `error`)."""
        with self._lock:
            key = self._key()
            thread = self._thread
            running = thread is not None and thread.is_alive() and self._thread_key == key
            if not running:
                if not force and self.points is not None and self._points_key == key:
                    self.status = "UMAP is up to date."
                    return None
                try:
                    features = self._checked_inputs()
                    sample = subsample_indices(features.shape[0], self.max_points, self.seed)
                    data = np.array(features[sample], copy=True)
                except (ExploreError, ValueError, TypeError) as error:
                    self._fail(str(error))
                    return None
                self.param.update(
                    computing=True,
                    error="",
                    status=f"Computing UMAP of {sample.size} of {features.shape[0]} items...",
                )
                thread = threading.Thread(
                    target=self._run, args=(key, data, sample), name="explore-umap", daemon=True
                )
                self._thread, self._thread_key = thread, key
                thread.start()
        if wait:
            thread.join()
        return thread

    def _run(self, key: tuple, data: np.ndarray, sample: np.ndarray) -> None:
        """The UMAP thread: embed, then show the result on the page's thread."""
        started = time.perf_counter()
        try:
            points = umap_embedding(
                data, n_neighbors=key[1], min_dist=key[2], seed=key[4], max_points=None
            )
        except Exception as error:  # noqa: BLE001 - shown in the page, never raised
            if not isinstance(error, ExploreError | ValueError):
                logger.exception("UMAP failed")
            text = str(error) if isinstance(error, ExploreError | ValueError) else repr(error)
            self.page_updates(self._show_failure, key, f"UMAP failed: {text}")
            return
        seconds = time.perf_counter() - started
        self.page_updates(self._show_points, key, points, sample, seconds)

    def _current(self, key: tuple) -> bool:
        """Whether a result for `key` still fits the items (they may have changed meanwhile)."""
        with self._lock:
            return key[0] == self._generation

    def _show_failure(self, key: tuple, message: str) -> None:
        if self._current(key):
            self._fail(message)

    def _show_points(
        self, key: tuple, points: np.ndarray, sample: np.ndarray, seconds: float
    ) -> None:
        if not self._current(key):  # the items changed meanwhile: drop the result
            return
        self._points_key = key
        self.param.update(
            points=points,
            sample_index=sample,
            selection=[],
            map_selection=[],
            highlighted=[],
            computing=False,
            error="",
            status=f"UMAP of {sample.size} items in {seconds:.1f} s. Box-select to pick pixels.",
        )

    # ------------------------------------------------------------------ selection
    def _items_of_points(self) -> np.ndarray:
        """For each embedded point: its pixel's flat index (scenes) or its item index."""
        sample = np.asarray(self.sample_index, dtype=np.int64)
        if self.pixel_index is None:
            return sample
        return np.asarray(self.pixel_index, dtype=np.int64)[sample]

    def _on_bounds(self, bounds: tuple[float, float, float, float] | None = None) -> None:
        if self.points is None:
            return
        try:
            chosen = selected_points(self.points, bounds)
        except DataError as error:
            self.error = str(error)
            return
        pixels = self._items_of_points()[chosen]
        self.param.update(
            selection=chosen.tolist(),
            map_selection=pixels.tolist(),
            highlighted=chosen.tolist(),
            status=f"{chosen.size} points selected.",
        )

    def highlight_pixels(self, flat_indices: np.ndarray | list[int] | None) -> np.ndarray:
        """Highlight the embedded points of these pixels (item indices for image sets); pixels
        that were not embedded are skipped. Leaves `selection` alone; returns the point indices."""
        items = None if self.points is None else self._items_of_points
        chosen = points_of_items(items, flat_indices)
        self.highlighted = chosen.tolist()
        return chosen

    # ------------------------------------------------------------------ views
    def _categories(self) -> tuple[np.ndarray, list[str], bool, str]:
        """The sampled items' category values, the names of the values, whether 0 means
        unlabelled, and what the categories are ("cluster" or "class")."""
        sample = np.asarray(self.sample_index, dtype=np.int64)
        if self.color_by == "class" and self.class_labels is not None:
            values = np.asarray(self.class_labels, dtype=np.int64)[sample]
            zero = (
                self.pixel_index is not None
                if self.zero_is_unlabelled is None
                else bool(self.zero_is_unlabelled)
            )
            names = [self._class_name(int(v), zero) for v in range(int(values.max()) + 1)]
            return values, names, zero, "class"
        if self.assignments is None:
            return np.zeros(sample.size, dtype=np.int64), ["all"], False, "cluster"
        values = np.asarray(self.assignments, dtype=np.int64)[sample]
        names = [f"cluster {k}" for k in range(int(values.max()) + 1)]
        return values, names, False, "cluster"

    def _class_name(self, value: int, zero_is_unlabelled: bool) -> str:
        if zero_is_unlabelled and value == 0:
            return "unlabelled"
        index = value - 1 if zero_is_unlabelled else value
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return str(self.class_names[index])
        return f"class {value}"

    @param.depends("highlighted", "points")
    def _highlight_element(self) -> hv.Points:
        points = np.empty((0, 2)) if self.points is None else self.points
        highlight = self.highlighted if self.points is not None else None
        return highlight_layer(points, highlight)

    @param.depends(
        "points", "color_by", "assignments", "class_labels", "class_names", "cluster_palette"
    )
    def plot(self) -> hv.Overlay | hv.DynamicMap | hv.Points:
        """The datashaded embedding with the highlighted points on top (box select attached);
        an empty plot with a hint before the first UMAP."""
        if self.points is None:
            return hv.Points([], kdims=["x", "y"]).opts(
                title="UMAP: not computed yet", responsive=True, height=PLOT_HEIGHT
            )
        try:
            categories, names, zero, what = self._categories()
            palette = self.cluster_palette if what == "cluster" else None
            element, key = embedding_points(
                self.points, categories, labels=names, zero_is_unlabelled=zero, palette=palette
            )
        except (ExploreError, ValueError, IndexError) as error:
            return hv.Points([], kdims=["x", "y"]).opts(
                title=f"cannot colour the embedding: {error}", responsive=True, height=PLOT_HEIGHT
            )
        self._shaded = shaded_points(element, key)
        self.bounds_stream.source = self._shaded
        title = f"UMAP of {len(self.points)} items, coloured by {what}"
        return (self._shaded * self._highlight).opts(
            title=title,
            responsive=True,
            height=PLOT_HEIGHT,
            show_legend=True,
            legend_position="right",
        )

    def controls(self) -> pn.Column:
        """Compute button, colouring and UMAP parameters, spinner and status line."""
        button = pn.widgets.Button(
            label="Compute UMAP",
            color="primary",
            disabled=self.param.computing,
            css_classes=["umap-button"],
        )
        button.on_click(lambda event: self.compute())
        return pn.Column(
            pn.Row(
                button,
                pn.indicators.LoadingSpinner(
                    value=self.param.computing, size=25, visible=self.param.computing
                ),
                pn.pane.Markdown(self.param.status, css_classes=["umap-status"]),
            ),
            pn.widgets.RadioButtonGroup.from_param(self.param.color_by, label="Colour by"),
            pn.widgets.IntSlider.from_param(self.param.n_neighbors, label="Neighbours", end=100),
            pn.widgets.FloatSlider.from_param(
                self.param.min_dist, label="Minimum distance", step=0.05
            ),
            pn.widgets.IntInput.from_param(
                self.param.max_points, label="Most points", css_classes=["umap-max-points"]
            ),
            self._alert,
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.controls(),
            pn.Column(
                pn.panel(self.plot, sizing_mode="stretch_width", min_height=PLOT_HEIGHT),
                css_classes=["embedding-plot"],
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
