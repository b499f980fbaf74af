"""Training components: the sidebar controls of a `TrainingSession` and the view that shows its
run epoch by epoch (cluster map beside the ground truth, loss and metric curves, cluster sizes,
mean spectrum per cluster or sample images per cluster, an epoch player to replay the run).

Cluster colours follow the ground truth: for display only, each cluster is drawn in the colour of
the class it is matched with (Hungarian matching on labelled items); clusters left unmatched get
colours after the classes'. Nothing is selected by these labels.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.session import TrainingSession
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.metrics import match_clusters
from explore.training.history import EpochRecord
from explore.viz import (
    cluster_image_grid,
    cluster_mean_spectra,
    cluster_sizes,
    label_map,
    loss_curves,
    metric_curves,
)

PLOT_HEIGHT = 380


def aligned_clusters(assignments: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """Cluster ids renumbered for display as 1..: a cluster matched to class c (1-based, as in a
    scene's ground truth) becomes c, unmatched clusters follow the classes. Without labels,
    cluster k becomes k + 1. Same shape as `assignments`."""
    assignments = np.asarray(assignments)
    n_clusters = int(assignments.max()) + 1 if assignments.size else 1
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
    return lookup[assignments]


def _truth_of(data: Scene | ImageSet) -> np.ndarray | None:
    """Ground truth as 1..C with 0 = unlabelled (scenes already are; image labels are 0..C-1,
    -1 unlabelled)."""
    if isinstance(data, Scene):
        return data.labels if data.labels.any() else None
    if data.labels is None:
        return None
    labels = np.asarray(data.labels)
    return None if (labels < 0).all() else labels + 1


class TrainingControls(pn.viewable.Viewer):
    """Sidebar: dataset, method, K, epochs, device, seed, config; start / stop / resume;
    a progress bar, the status line and any error as a visible alert."""

    session = param.ClassSelector(class_=TrainingSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        session = self.session
        self.start_button = pn.widgets.Button(label="Start", color="primary")
        self.stop_button = pn.widgets.Button(label="Stop", color="warning")
        self.resume_button = pn.widgets.Button(label="Resume", color="default")
        self.start_button.on_click(lambda event: session.start())
        self.stop_button.on_click(lambda event: session.stop())
        self.resume_button.on_click(lambda event: session.resume())
        self.progress = pn.indicators.Progress(value=0, max=1, bar_color="info")
        self.epoch_counter = pn.pane.Markdown("epoch 0 / 0", css_classes=["epoch-counter"])
        self.status_line = pn.pane.Markdown("idle")
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False)
        session.param.watch(self._refresh, ["epoch", "total_epochs", "status", "message", "error"])
        self._refresh()

    def _refresh(self, *events: Any) -> None:
        session = self.session
        total = max(session.total_epochs, 1)
        self.progress.max = total
        self.progress.value = min(session.epoch, total)
        self.epoch_counter.object = f"epoch {session.epoch} / {session.total_epochs}"
        self.status_line.object = f"**{session.status}**" + (
            f": {session.message}" if session.message else ""
        )
        self.alert.object = session.error
        self.alert.visible = bool(session.error)
        running = session.status in ("running", "stopping")
        self.start_button.disabled = running
        self.resume_button.disabled = running
        self.stop_button.disabled = not running

    def __panel__(self) -> pn.viewable.Viewable:
        session = self.session
        return pn.Column(
            pn.widgets.Select.from_param(session.param.dataset, name="Dataset"),
            pn.widgets.Select.from_param(session.param.method, name="Method"),
            pn.widgets.IntInput.from_param(session.param.n_clusters, name="Clusters (K)"),
            pn.widgets.IntInput.from_param(session.param.epochs, name="Epochs"),
            pn.widgets.Select.from_param(session.param.config, name="Config"),
            pn.widgets.Select.from_param(session.param.device, name="Device"),
            pn.widgets.IntInput.from_param(session.param.seed, name="Seed"),
            pn.Row(self.start_button, self.stop_button, self.resume_button),
            self.progress,
            self.epoch_counter,
            self.status_line,
            self.alert,
        )


class TrainingView(pn.viewable.Viewer):
    """The current run, epoch by epoch: map (or image grid) beside the ground truth, curves,
    cluster sizes, mean spectra; `shown` is the replayed epoch's position (1-based)."""

    session = param.ClassSelector(class_=TrainingSession)
    shown = param.Integer(default=0, bounds=(0, None), doc="epoch shown; 0 = none yet")
    follow = param.Boolean(default=True, doc="jump to each new epoch while training")
    highlight = param.Parameter(default=None, doc="flat pixel indices to outline on the map")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.player = pn.widgets.Player(
            label="Epoch", start=0, end=1, value=0, step=1, loop_policy="once", interval=600
        )
        self.player.disabled = True
        self.player.param.watch(self._on_player, "value")
        self.follow_toggle = pn.widgets.Checkbox.from_param(
            self.param.follow, name="Follow training"
        )
        self.session.param.watch(self._on_records, "records")

    # ------------------------------------------------------------------ epoch selection
    def _on_records(self, event: param.parameterized.Event) -> None:
        count = len(event.new)
        self.player.end = max(count, 1)
        self.player.start = 1 if count else 0
        self.player.disabled = count == 0
        if count == 0 or self.follow:
            self.shown = count
            self.player.value = count

    def _on_player(self, event: param.parameterized.Event) -> None:
        self.shown = int(event.new)

    def record(self) -> EpochRecord | None:
        """The record of the shown epoch (None before the first epoch)."""
        records = self.session.records
        if not records or self.shown < 1:
            return None
        return records[min(self.shown, len(records)) - 1]

    def _data(self) -> Scene | ImageSet:
        return self.session.current_data or self.session.data()

    # ------------------------------------------------------------------ views
    @param.depends("session.records", "shown", "highlight")
    def cluster_view(self) -> hv.Element:
        """The shown epoch's cluster map (scenes) or sample images per cluster (image sets)."""
        record = self.record()
        data = self._data()
        if isinstance(data, ImageSet):
            if record is None:
                return hv.RGB(np.zeros((8, 8, 3))).opts(title="no epoch yet", height=PLOT_HEIGHT)
            return cluster_image_grid(data, record.assignments, per_cluster=8).opts(
                title=f"epoch {record.epoch}: sample images per cluster"
            )
        if record is None:
            blank = np.zeros(data.labels.shape, dtype=np.int32)
            element = label_map(blank, title="cluster map: no epoch yet")
        else:
            aligned = aligned_clusters(record.assignments, _truth_of(data))
            element = label_map(
                aligned, title=f"epoch {record.epoch}: clusters", zero_is_unlabelled=True
            )
        element = element.opts(responsive=True, min_height=PLOT_HEIGHT)
        if self.highlight is not None and len(self.highlight):
            height, width = data.labels.shape
            rows, cols = np.divmod(np.asarray(self.highlight, dtype=np.int64), width)
            points = hv.Points((cols + 0.5, height - rows - 0.5), kdims=["x", "y"]).opts(
                color="white", line_color="black", size=4, marker="square"
            )
            return element * points
        return element

    @param.depends("session.records", "shown")
    def truth_view(self) -> hv.Element:
        """Ground truth beside the map (scenes), or the images per class (image sets)."""
        data = self._data()
        if isinstance(data, ImageSet):
            if data.labels is None:
                return hv.RGB(np.zeros((8, 8, 3))).opts(title="no labels")
            return cluster_image_grid(data, np.asarray(data.labels), per_cluster=8).opts(
                title="sample images per class (ground truth)"
            )
        return label_map(data.labels, title=f"{data.name}: ground truth").opts(
            responsive=True, min_height=PLOT_HEIGHT
        )

    @param.depends("session.records")
    def losses_view(self) -> hv.Overlay:
        return loss_curves(self.session.records).opts(
            title="losses by part", responsive=True, height=260
        )

    @param.depends("session.records")
    def metrics_view(self) -> hv.Overlay:
        return metric_curves(self.session.records).opts(
            title="metrics on labelled items (last epoch is reported; never chosen by labels)",
            responsive=True,
            height=260,
        )

    @param.depends("session.records", "shown")
    def sizes_view(self) -> hv.Element:
        record = self.record()
        sizes = record.cluster_sizes if record is not None else [0] * self.session.n_clusters
        return cluster_sizes(sizes).opts(title="cluster sizes", responsive=True, height=260)

    @param.depends("session.records", "shown")
    def spectra_view(self) -> hv.Element | pn.pane.Markdown:
        data = self._data()
        record = self.record()
        if isinstance(data, ImageSet) or record is None:
            return pn.pane.Markdown("Mean spectra per cluster appear after the first epoch.")
        return cluster_mean_spectra(data, record.assignments).opts(
            title="mean spectrum per cluster", responsive=True, height=300
        )

    @param.depends("session.records")
    def metrics_table(self) -> pn.pane.Markdown:
        records = self.session.records
        if not records:
            return pn.pane.Markdown("")
        last = records[-1]
        rows = ["| epoch | seconds | " + " | ".join(last.metrics) + " |"]
        rows.append("|---" * (2 + len(last.metrics)) + "|")
        for record in records[-10:]:
            values = " | ".join(f"{record.metrics.get(k, float('nan')):.3f}" for k in last.metrics)
            rows.append(f"| {record.epoch} | {record.seconds:.1f} | {values} |")
        return pn.pane.Markdown("\n".join(rows))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.player, self.follow_toggle),
            pn.Row(pn.panel(self.cluster_view), pn.panel(self.truth_view)),
            pn.Row(pn.panel(self.losses_view), pn.panel(self.metrics_view)),
            pn.Row(pn.panel(self.sizes_view), pn.panel(self.spectra_view)),
            self.metrics_table,
            sizing_mode="stretch_width",
        )
