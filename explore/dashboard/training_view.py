"""The view that shows a `TrainingSession`'s run epoch by epoch: cluster map beside the
ground truth, loss and metric curves, cluster sizes, mean spectrum per cluster or sample images
per cluster, clusters against classes, an epoch player to replay the run (the curves mark the
epoch the player shows).

The page explains itself with the library's own sentences, written once there: one line per
logged loss term (`explore.losses.describe_loss_term`) below the loss curves (the method's
summary is the sidebar's, `explore.dashboard.training_controls`).

Cluster colours follow the ground truth: for display only, each cluster is drawn in the colour of
the class it is matched with (Hungarian matching on labelled items); clusters left unmatched get
colours after the classes'. Nothing is selected by these labels. One colour per cluster on the
whole page (`cluster_palette`): the map, the size bars, the mean spectra, the image grids and the
embedding; every view keeps the cluster's own number.

Merged clusters (`TrainingSession.merge`, from the merge and export controls of
`explore.dashboard.run_tools`) are what every view of the shown epoch draws: `record()` is the
merged record; the curves keep the epochs as trained.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.scene_view import map_frame, scene_axes, truth_map
from explore.dashboard.session import TrainingSession
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.losses import describe_loss_term
from explore.metrics import match_clusters, matched_confusion_matrix
from explore.training.history import EpochRecord
from explore.training.live import LiveMap
from explore.viz import (
    cluster_image_grid,
    cluster_mean_spectra,
    cluster_sizes,
    composite_image,
    label_map,
    label_palette,
    loss_curves,
    metric_curves,
    pixels_in_box,
)

PLOT_HEIGHT = 380
# Image mosaics side by side: each frame this wide (square image pixels, `data_aspect`), so
# the two fit the page's main area at 1600 px beside their axis labels and toolbars.
GRID_SIZE = {"frame_width": 340}
# Short enough for the plot's width; the note below the curves says the rest.
METRICS_TITLE = "metrics on labelled items"
METRICS_NOTE = (
    "Metrics compare the clusters with the labelled items for you to read: the last epoch is "
    "reported, and nothing (epoch, model, K) is chosen by them."
)


def aligned_clusters(assignments: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """Cluster ids renumbered for display as 1..: a cluster matched to class c (1-based, as in a
    scene's ground truth) becomes c, unmatched clusters follow the classes. Without labels,
    cluster k becomes k + 1. Same shape as `assignments`."""
    assignments = np.asarray(assignments)
    return _display_lookup(assignments, truth)[assignments]


def cluster_palette(
    assignments: np.ndarray, truth: np.ndarray | None, n_clusters: int = 0
) -> list[str]:
    """The colour of clusters 0, 1, ... (at least `n_clusters` of them) for every view of a run:
    a cluster matched to class c has class c's colour on the ground-truth map; the others the
    colours after the classes'."""
    lookup = _display_lookup(np.asarray(assignments), truth, n_clusters)
    colours = label_palette(int(lookup.max()))
    return [colours[value - 1] for value in lookup]


def _display_lookup(
    assignments: np.ndarray, truth: np.ndarray | None, n_clusters: int = 0
) -> np.ndarray:
    """Display value (1..) of clusters 0..: see `aligned_clusters`."""
    n_clusters = max(int(assignments.max()) + 1 if assignments.size else 1, int(n_clusters))
    lookup = np.arange(1, n_clusters + 1)
    if truth is not None:
        truth = np.asarray(truth)
        labelled = truth > 0
        if labelled.any():
            mapping = match_clusters(truth[labelled], assignments[labelled])
            n_classes = int(truth.max())
            next_free = n_classes + 1
            for cluster in range(n_clusters):
                matched = mapping.get(cluster)
                if matched is not None:
                    lookup[cluster] = matched
                else:
                    lookup[cluster] = next_free
                    next_free += 1
    return lookup


def cluster_class_table(
    assignments: np.ndarray, truth: np.ndarray, n_clusters: int = 0
) -> tuple[np.ndarray, list[int], list[int]]:
    """Clusters against classes on the labelled items (`truth` > 0, classes 1..C as
    `_truth_of` gives them): a (K, C) table of item counts whose rows are in the order of the
    metrics' Hungarian matching (`explore.metrics.matched_confusion_matrix`), so a good
    clustering reads as a diagonal. Rows of clusters matched to a class come first (class
    order), then the unmatched clusters, then clusters with no labelled item (all zeros; K is at
    least `n_clusters`). Returns `(table, cluster_ids, class_values)`."""
    assignments, truth = np.ravel(assignments), np.ravel(truth)
    labelled = truth > 0
    if not labelled.any():
        raise ValueError("no labelled item: clusters cannot be compared with classes")
    matrix, classes, order = matched_confusion_matrix(truth[labelled], assignments[labelled])
    present = [(cluster, column) for column, cluster in enumerate(order) if cluster is not None]
    n_clusters = max(int(n_clusters), int(assignments.max()) + 1 if assignments.size else 0)
    missing = [k for k in range(n_clusters) if k not in {cluster for cluster, _ in present}]
    rows = [matrix[:, column] for _, column in present]
    rows += [np.zeros(len(classes), dtype=np.int64)] * len(missing)
    clusters = [int(cluster) for cluster, _ in present] + missing
    return (
        np.asarray(rows, dtype=np.int64).reshape(len(clusters), len(classes)),
        clusters,
        [int(value) for value in classes],
    )


def loss_term_notes(records: list[EpochRecord]) -> str:
    """One line per loss term the run logs (`describe_loss_term`), as Markdown ("" when none:
    an anchor like k-means logs no loss)."""
    terms: list[str] = []
    for record in records:
        terms += [name for name in record.losses if name not in terms]
    return "\n".join(f"- **{name}**: {describe_loss_term(name)}" for name in terms)


def _truth_of(data: Scene | ImageSet) -> np.ndarray | None:
    """Ground truth for display, in the item shape (a scene's (H, W) map, an image set's (N,)):
    classes 1..C and 0 = unlabelled, from the datasets' one convention (`item_classes`);
    None when nothing is labelled."""
    classes = data.item_classes()
    if not (classes >= 0).any():
        return None
    shape = data.shape[:2] if isinstance(data, Scene) else (data.n_images,)
    return (classes + 1).reshape(shape)


class TrainingView(pn.viewable.Viewer):
    """The current run, epoch by epoch: map (or image grid) beside the ground truth, curves,
    cluster sizes, mean spectra; `shown` is the replayed epoch's position (1-based).

    A box drawn on the cluster map (box-select tool) sets `map_selection`, the flat indices of
    the pixels inside it; the dashboard highlights their points in the embedding."""

    session = param.ClassSelector(class_=TrainingSession)
    shown = param.Integer(default=0, bounds=(0, None), doc="epoch shown; 0 = none yet")
    follow = param.Boolean(default=True, doc="jump to each new epoch while training")
    highlight = param.Parameter(default=None, doc="flat pixel indices to outline on the map")
    map_selection = param.List(
        default=[], doc="flat pixel indices inside the box drawn on the cluster map"
    )
    below_map = param.Parameter(
        default=None, doc="a view shown under the maps (the dashboard's moving embedding)"
    )
    in_place = param.Boolean(
        default=False,
        doc="draw a scene's cluster map as a DynamicMap redrawn in place, not a new figure per "
        "update: in a notebook, Panel's comms can fail to swap a figure redrawn often (the "
        "notebook view, `explore.dashboard.notebook`)",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.player = pn.widgets.Player(
            label="Epoch",
            start=0,
            end=1,
            value=0,
            step=1,
            loop_policy="once",
            interval=600,
            css_classes=["epoch-player"],
        )
        self.player.disabled = True
        self.player.param.watch(self._on_player, "value")
        self.follow_toggle = pn.widgets.Checkbox.from_param(
            self.param.follow, name="Follow training"
        )
        self.shown_label = pn.pane.Markdown("map: no epoch yet", css_classes=["shown-epoch"])
        # One pane whose text each new record replaces (like the epoch counter): a view
        # re-rendered per record could drop the last updates when epochs arrive from several
        # training threads at once (seen with three sessions training together).
        self.metrics_pane = pn.pane.Markdown(self.metrics_table())
        # The curves too: panes whose object each new record replaces (a view re-rendered from
        # the training thread once missed a 1-epoch run's only update).
        # They mark the shown epoch, so they are redrawn when the player moves too; their axes
        # are not linked (a linked plot kept the x range of an earlier epoch's plot, 0..2 for
        # one epoch, which put the marker of the last epoch on the frame's edge).
        self.losses_pane = pn.pane.HoloViews(
            self.losses_view(), sizing_mode="stretch_width", linked_axes=False
        )
        self.metrics_plot = pn.pane.HoloViews(
            self.metrics_view(), sizing_mode="stretch_width", linked_axes=False
        )
        self.loss_terms = pn.pane.Markdown(
            "", css_classes=["loss-terms"], styles={"font-size": "0.9em"}
        )
        from explore.dashboard.run_tools import RunTools  # it reads this view's shown epoch

        self.tools = RunTools(session=self.session, view=self)
        self.map_bounds = hv.streams.BoundsXY(bounds=None)
        self.map_bounds.add_subscriber(self._on_map_bounds)
        self.map_tap = hv.streams.Tap(x=None, y=None)
        self.map_tap.add_subscriber(self._on_map_tap)
        self.session.param.watch(self._on_records, "records")
        self.session.param.watch(self._on_merges, "merges")
        self.session.param.watch(self._on_dataset, "dataset")
        self.param.watch(self._update_shown_label, "shown")
        self.param.watch(self._redraw_curves, "shown")

    # ------------------------------------------------------------------ epoch selection
    def _on_records(self, event: param.parameterized.Event) -> None:
        count = len(event.new)
        shown_before = self.shown
        self.player.end = max(count, 1)
        self.player.start = 1 if count else 0
        self.player.disabled = count == 0
        if count == 0 and self.shown == 0:
            self.param.trigger("shown")  # a new run's data: redraw the empty views
        elif count == 0 or self.follow:
            self.shown = count
            self.player.value = count
        if count == 0:  # a new run: the last run's box and highlighted pixels no longer apply
            self.map_selection = []
            self.highlight = None
        self._update_shown_label()
        self.metrics_pane.object = self.metrics_table()
        if self.shown == shown_before:  # else the `shown` watcher has redrawn them
            self._redraw_curves()
        notes = loss_term_notes(event.new)
        if count and not notes:
            notes = f"{self.session.method} logs no loss: it is one fit, not trained by epochs."
        if notes != self.loss_terms.object:
            self.loss_terms.object = notes

    def _on_merges(self, *events: Any) -> None:
        """Merged (or unmerged) clusters: the texts of the shown epoch follow."""
        self._update_shown_label()
        self.metrics_pane.object = self.metrics_table()

    def _on_dataset(self, *events: Any) -> None:
        """Highlights are pixels of the shown run's dataset: another dataset drops them."""
        self.highlight = None
        self.map_selection = []

    def _redraw_curves(self, *events: Any) -> None:
        """New loss and metric curves (new records, or the marker of another shown epoch)."""
        self.losses_pane.object = self.losses_view()
        self.metrics_plot.object = self.metrics_view()

    def _on_player(self, event: param.parameterized.Event) -> None:
        self.shown = int(event.new)

    def _update_shown_label(self, *events: Any) -> None:
        record = self.record()
        text = "map: no epoch yet"
        if record is not None:
            text = f"map: epoch {record.epoch} of {len(self.session.records)}"
            if self.session.merge_lookup() is not None:
                text += f", {len(record.cluster_sizes)} clusters after merges"
        self.shown_label.object = text

    def _on_map_bounds(self, bounds: tuple[float, float, float, float] | None = None) -> None:
        """A box on the cluster map selects the pixels whose centres are inside it."""
        data = self._data()
        if isinstance(data, ImageSet):
            return
        selection = pixels_in_box(data.shape[:2], bounds).tolist()
        if selection == self.map_selection:
            self.param.trigger("map_selection")  # the same box again: highlight it again
        else:
            self.map_selection = selection

    def cluster_at(self, x: float | None, y: float | None) -> int | None:
        """The shown epoch's cluster (merges applied) of the pixel at map coordinates (x, y),
        None off the map, before the first epoch or for an image set."""
        data, record = self._data(), self.record()
        if x is None or y is None or record is None or record.assignments is None:
            return None
        if isinstance(data, ImageSet):
            return None
        height, width = data.shape[:2]
        row, col = int(np.floor(height - y)), int(np.floor(x))
        if not (0 <= row < height and 0 <= col < width):
            return None
        return int(np.asarray(record.assignments)[row, col])

    def _on_map_tap(self, x: float | None = None, y: float | None = None) -> None:
        """A click on the cluster map adds that pixel's cluster to the clusters to merge."""
        if self.live_map() is not None:
            return  # a provisional map: its clusters are not the run's yet
        cluster = self.cluster_at(x, y)
        if cluster is not None:
            self.tools.pick(cluster)

    def trained_record(self) -> EpochRecord | None:
        """The record of the shown epoch as trained (None before the first epoch)."""
        records = self.session.records
        if not records or self.shown < 1:
            return None
        return records[min(self.shown, len(records)) - 1]

    def record(self) -> EpochRecord | None:
        """The shown epoch's record as the views draw it: with the run's merges applied."""
        record = self.trained_record()
        return None if record is None else self.session.merged_record(record)

    def _data(self) -> Scene | ImageSet:
        return self.session.current_data or self.session.data()

    def _merged(self) -> str:
        """Added to the titles of the shown epoch's views after merges: " (merged)", else ""."""
        return " (merged)" if self.session.merge_lookup() is not None else ""

    def palette(self) -> list[str] | None:
        """The shown epoch's colour of each cluster (`cluster_palette`), None before one."""
        record = self.record()
        if record is None:
            return None
        return cluster_palette(
            record.assignments, _truth_of(self._data()), len(record.cluster_sizes)
        )

    # ------------------------------------------------------------------ views
    # The shown epoch's views follow `shown` (which follows each new record while training, and
    # is set to 0 when a run starts), not `session.records`: one redraw per epoch, not two.
    def live_map(self) -> LiveMap | None:
        """The running epoch's provisional map while the view follows training and it is newer
        than the shown record (None otherwise)."""
        live = self.session.live
        record = self.trained_record()
        if live is None or not self.follow or (record is not None and record.epoch >= live.epoch):
            return None
        return live

    @param.depends("shown", "highlight", "session.dataset", "session.merges", "session.live")
    def cluster_view(self) -> hv.Element:
        """The shown epoch's cluster map (scenes) or sample images per cluster (image sets);
        while an epoch runs, its latest provisional map (`live_map`)."""
        record = self.record()
        data = self._data()
        live = self.live_map()
        if live is not None and not isinstance(data, ImageSet):
            title = f"epoch {live.epoch} (batch {live.batch} of {live.n_batches}): clusters"
            palette = cluster_palette(live.assignments, _truth_of(data), self.session.n_clusters)
            element = label_map(
                live.assignments, title=title, zero_is_unlabelled=False, palette=palette
            ).opts(tools=["box_select", "tap"], **map_frame(data.shape[:2]))
            element = scene_axes(element, data.name)
            self.map_bounds.source = self.map_tap.source = element
            return element
        if isinstance(data, ImageSet):
            if record is None:
                return hv.RGB(np.zeros((8, 8, 3))).opts(title="no epoch yet", height=PLOT_HEIGHT)
            return cluster_image_grid(
                data, record.assignments, per_cluster=8, palette=self.palette()
            ).opts(title=f"epoch {record.epoch}: sample images per cluster", **GRID_SIZE)
        if record is None:
            blank = np.zeros(data.shape[:2], dtype=np.int32)
            element = label_map(blank, title="cluster map: no epoch yet")
        else:
            element = label_map(
                record.assignments,
                title=f"epoch {record.epoch}: clusters{self._merged()}",
                zero_is_unlabelled=False,
                palette=self.palette(),
            )
        element = element.opts(tools=["box_select", "tap"], **map_frame(data.shape[:2]))
        if self.highlight is not None and len(self.highlight):
            height, width = data.shape[:2]
            rows, cols = np.divmod(np.asarray(self.highlight, dtype=np.int64), width)
            points = hv.Points((cols + 0.5, height - rows - 0.5), kdims=["x", "y"]).opts(
                color="white", line_color="black", size=4, marker="square"
            )
            element = element * points
        element = scene_axes(element, data.name)
        # the box-select and tap tools of the drawn map report here
        self.map_bounds.source = self.map_tap.source = element
        return element

    @param.depends("session.run_name", "session.dataset")
    def truth_view(self) -> hv.Element:
        """Ground truth beside the map (scenes; the composite when a scene has none), or the
        images per class (image sets)."""
        data = self._data()
        if isinstance(data, ImageSet):
            if data.labels is None:
                return hv.RGB(np.zeros((8, 8, 3))).opts(title="no labels")
            names = [f"class {name}" for name in data.class_names] or None
            return cluster_image_grid(
                data, np.asarray(data.labels), per_cluster=8, row_names=names
            ).opts(title="sample images per class (ground truth)", **GRID_SIZE)
        if data.labels is None:  # nothing to compare with: the scene itself, not a black map
            title = f"{data.name}: R/G/B (no ground truth)"
            element = composite_image(data, title=title)
        else:
            element = label_map(truth_map(data), title=f"{data.name}: ground truth")
        return scene_axes(element.opts(**map_frame(data.shape[:2])), data.name)

    def _marked(self, curves: hv.Overlay) -> hv.Overlay:
        """The curves with a vertical line at the epoch the map shows (none before one), the
        x axis padded so that a line at the first or last epoch is not hidden by the frame."""
        record = self.record()
        if record is None:
            return curves
        marker = hv.VLine(record.epoch).opts(color="#333", line_dash="dashed", line_width=2)
        # A new overlay: give it the curves' own overlay options back (whole-epoch ticks).
        return (curves * marker).opts(**curves.opts.get().kwargs, padding=(0.05, 0.1))

    def losses_view(self) -> hv.Overlay:
        """Loss parts per epoch of the current run, the shown epoch marked."""
        return self._marked(loss_curves(self.session.records)).opts(
            title="losses by part", responsive=True, height=260, legend_position="right"
        )

    def metrics_view(self) -> hv.Overlay:
        """Metrics per epoch of the current run, the shown epoch marked."""
        return self._marked(metric_curves(self.session.records)).opts(
            title=METRICS_TITLE, responsive=True, height=260, legend_position="right"
        )

    @param.depends("shown", "session.dataset", "session.merges")
    def confusion_view(self) -> hv.Overlay | pn.pane.Markdown:
        """The shown epoch's clusters against the classes (`cluster_class_table`): item counts,
        rows in the metrics' matching order, each cluster named by its own number; a one-line
        reason instead when the dataset has no labels."""
        data = self._data()
        truth = _truth_of(data)
        if truth is None:
            return pn.pane.Markdown(
                f"No clusters-vs-classes table: {data.name} has no labels.",
                css_classes=["confusion-note"],
            )
        record = self.record()
        n_classes = int(truth.max())
        if isinstance(data, ImageSet) and data.class_names:
            class_names = [str(name) for name in data.class_names]
        elif isinstance(data, Scene) and data.class_names:
            class_names = [f"{c + 1}. {name}" for c, name in enumerate(data.class_names)]
        else:
            class_names = [f"class {c}" for c in range(1, n_classes + 1)]
        if record is None:
            table = np.zeros((0, n_classes), dtype=np.int64)
            clusters: list[int] = []
            classes = list(range(1, n_classes + 1))
            title = "clusters vs classes appear after the first epoch"
        else:
            table, clusters, classes = cluster_class_table(
                record.assignments, truth, len(record.cluster_sizes)
            )
            title = f"epoch {record.epoch}: clusters{self._merged()} vs classes (labelled items)"
        x_names = [class_names[c - 1] if c - 1 < len(class_names) else str(c) for c in classes]
        y_names = [f"cluster {k}" for k in clusters]
        dark = max(int(table.max()) if table.size else 0, 1) * 0.6  # white counts above this
        cells = [
            (x_names[j], y_names[i], int(table[i, j]), "white" if table[i, j] > dark else "#222")
            for i in range(len(y_names))
            for j in range(len(x_names))
        ]
        heat = hv.HeatMap(cells, kdims=["class", "cluster"], vdims=["items", "ink"]).opts(
            cmap="Blues",
            colorbar=True,
            tools=["hover"],
            hover_tooltips=[("class", "@class"), ("cluster", "@cluster"), ("items", "@items")],
            xrotation=60,
            invert_yaxis=True,
            title=title,
            responsive=True,
            # rows tall enough for their counts, below them room for the slanted class names
            height=300 + 28 * max(len(y_names), 4),
        )
        labels = hv.Labels(cells, kdims=["class", "cluster"], vdims=["items", "ink"]).opts(
            text_font_size="8pt", text_color="ink"
        )
        return heat * labels

    @param.depends("shown", "session.dataset", "session.merges")
    def sizes_view(self) -> hv.Element:
        record = self.record()
        sizes = record.cluster_sizes if record is not None else [0] * self.session.n_clusters
        return cluster_sizes(sizes, palette=self.palette()).opts(
            title=f"cluster sizes{self._merged()}", responsive=True, height=260
        )

    @param.depends("shown", "session.dataset", "session.merges")
    def spectra_view(self) -> hv.Element | hv.Overlay | pn.pane.Markdown:
        data = self._data()
        record = self.record()
        if isinstance(data, ImageSet):
            return pn.pane.Markdown(
                "Images have no spectra: the sample images per cluster above show each cluster.",
                css_classes=["spectra-note"],
            )
        if record is None:  # an empty plot, not a text: the pane keeps one kind of view
            return hv.Overlay([hv.Curve([], "band", "reflectance")]).opts(
                title="mean spectra per cluster appear after the first epoch",
                responsive=True,
                height=300,
            )
        return cluster_mean_spectra(data, record.assignments, palette=self.palette()).opts(
            title=f"mean spectrum per cluster{self._merged()}", responsive=True, height=300
        )

    def metrics_table(self) -> str:
        """Markdown table of the last 10 epochs' seconds and metrics ("" before the first), and
        the shown epoch's metrics after merges when clusters are merged."""
        records = self.session.records
        if not records:
            return ""
        last = records[-1]
        rows = ["| epoch | seconds | " + " | ".join(last.metrics) + " |"]
        rows.append("|---" * (2 + len(last.metrics)) + "|")
        for record in records[-10:]:
            values = " | ".join(f"{record.metrics.get(k, float('nan')):.3f}" for k in last.metrics)
            rows.append(f"| {record.epoch} | {record.seconds:.1f} | {values} |")
        shown = self.record()
        if shown is not None and self.session.merge_lookup() is not None:
            values = " | ".join(f"{shown.metrics.get(k, float('nan')):.3f}" for k in last.metrics)
            merged = f"{shown.epoch} after merges ({len(shown.cluster_sizes)} clusters)"
            rows.append(f"| {merged} | {shown.seconds:.1f} | {values} |")
        return "\n".join(rows)

    def __panel__(self) -> pn.viewable.Viewable:
        # The box's pixels are highlighted in the views the dashboard adds (`below_map`, the
        # Embedding tab): a view without them (a notebook's, `explore.dashboard.notebook`)
        # does not offer it.
        selection_note = pn.pane.Markdown(
            "Click a pixel of the cluster map to add its cluster to the clusters to merge. "
            "Draw a box on it (box-select tool) to highlight those pixels in the moving "
            "embedding below and in the Embedding tab's UMAP."
        )
        if self.in_place and isinstance(self._data(), Scene):
            cluster_map = pn.pane.HoloViews(hv.DynamicMap(self.cluster_view), sizing_mode="fixed")
        else:
            cluster_map = pn.panel(self.cluster_view, sizing_mode="fixed")
        map_column = pn.Column(cluster_map, css_classes=["cluster-map"])
        truth = pn.panel(self.truth_view, sizing_mode="fixed")
        if self.in_place:  # a notebook's output is narrower: wrap where they do not fit
            maps = pn.FlexBox(map_column, truth, flex_wrap="wrap", sizing_mode="stretch_width")
        else:  # the page's main area: side by side (a wrapping box stacked the image grids)
            maps = pn.Row(map_column, truth)
        return pn.Column(
            pn.Row(self.player, self.follow_toggle, self.shown_label),
            self.tools,
            *([] if self.below_map is None else [selection_note]),
            maps,
            *([] if self.below_map is None else [self.below_map]),
            pn.Row(
                pn.Column(self.losses_pane, self.loss_terms),
                pn.Column(
                    self.metrics_plot,
                    pn.pane.Markdown(METRICS_NOTE, css_classes=["metrics-note"]),
                ),
            ),
            pn.Row(pn.panel(self.sizes_view), pn.panel(self.spectra_view)),
            pn.Row(
                pn.Column(pn.panel(self.confusion_view), css_classes=["confusion-matrix"]),
                pn.Column(self.metrics_pane, css_classes=["metrics-table"]),
            ),
            sizing_mode="stretch_width",
        )
