"""`CompareView`: two finished runs of a session side by side (e.g. k-means vs SSCC, or the same
method with two augmentation pools): their final maps (or images per cluster) and a table of
settings and metrics, each run with the merges made on the Training tab (as the map there
shows it)."""

from __future__ import annotations

import dataclasses
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from explore.dashboard.scene_view import map_frame, scene_axes
from explore.dashboard.session import FinishedRun, TrainingSession, merge_record
from explore.dashboard.training_view import _truth_of, cluster_palette
from explore.data.images import ImageSet
from explore.training.history import RunHistory
from explore.viz import cluster_image_grid, label_map

METRIC_KEYS = ("acc", "nmi", "ari", "kappa")


def merged_run(run: FinishedRun, lookup: Any) -> FinishedRun:
    """`run` with a merge relabelling (model's cluster k -> merged cluster) applied to its final
    labels, its last epoch scored again on them and "(merged)" in its name; `run` itself when
    `lookup` is None."""
    if lookup is None:
        return run
    lookup = np.asarray(lookup, dtype=np.int64)
    labels = lookup[np.asarray(run.labels)]
    history = RunHistory(run.history.metadata)
    if run.history.last is not None:  # the table shows the last epoch's metrics
        history.append(merge_record(run.history.last, lookup, run.data))
    settings = {**run.settings, "n_clusters": int(lookup.max()) + 1}
    return dataclasses.replace(
        run, name=f"{run.name} (merged)", labels=labels, history=history, settings=settings
    )


def run_map(run: FinishedRun) -> hv.Element:
    """A run's final assignment: the cluster map (scenes) or sample images per cluster (image
    sets), each cluster in its `cluster_palette` colour (that of its matched class)."""
    palette = cluster_palette(run.labels, _truth_of(run.data), run.settings.get("n_clusters", 0))
    if isinstance(run.data, ImageSet):
        return cluster_image_grid(run.data, run.labels, per_cluster=8, palette=palette).opts(
            title=run.name
        )
    element = label_map(run.labels, title=run.name, zero_is_unlabelled=False, palette=palette).opts(
        **map_frame(run.labels.shape)
    )
    return scene_axes(element, run.data.name)


def comparison_table(runs: list[FinishedRun]) -> str:
    """Markdown table: one column per run; settings, seconds and the last epoch's metrics."""
    header = "| | " + " | ".join(run.name for run in runs) + " |"
    lines = [header, "|---" * (len(runs) + 1) + "|"]
    rows: list[tuple[str, list[str]]] = [
        ("method", [run.method for run in runs]),
        ("dataset", [run.dataset for run in runs]),
        ("status", [run.status for run in runs]),
        ("epochs", [str(run.history.last.epoch if run.history.last else 0) for run in runs]),
        ("seconds", [f"{run.seconds:.1f}" for run in runs]),
        ("seed", [str(run.settings.get("seed")) for run in runs]),
    ]
    for key in METRIC_KEYS:
        values = [run.metrics.get(key) for run in runs]
        if any(value is not None for value in values):
            rows.append((key, ["-" if v is None else f"{v:.3f}" for v in values]))
    for name, values in rows:
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return "\n".join(lines)


class CompareView(pn.viewable.Viewer):
    """Pick two of the session's runs; see their maps and metrics side by side."""

    session = param.ClassSelector(class_=TrainingSession)
    left = param.Selector(default=None, objects=[], allow_None=True)
    right = param.Selector(default=None, objects=[], allow_None=True)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.session.param.watch(self._on_runs, "runs")
        self._on_runs()

    def _on_runs(self, *events: Any) -> None:
        """A new run goes on the right; the left keeps the user's choice unless it would show
        the same run twice (then it takes the run before)."""
        names = list(self.session.runs)
        previous = set(self.param.right.objects or [])
        arrived = [name for name in names if name not in previous]
        with param.parameterized.batch_call_watchers(self):
            self.param.left.objects = names
            self.param.right.objects = names
            if arrived or self.right not in names:
                self.right = names[-1] if names else None
            if self.left not in names or (self.left == self.right and len(names) > 1):
                self.left = names[-2] if len(names) > 1 else (names[-1] if names else None)

    def _chosen(self) -> list[FinishedRun]:
        """The two chosen runs, each with its merges."""
        runs, merges = self.session.runs, self.session.merges
        return [
            merged_run(runs[name], merges.get(name))
            for name in (self.left, self.right)
            if name in runs
        ]

    @param.depends("left", "right", "session.runs", "session.merges")
    def maps(self) -> pn.viewable.Viewable:
        chosen = self._chosen()
        if not chosen:
            return pn.pane.Markdown("Finish two runs (for example k-means, then SSCC) to compare.")
        return pn.Row(*(pn.pane.HoloViews(run_map(run)) for run in chosen))

    @param.depends("left", "right", "session.runs", "session.merges")
    def table(self) -> pn.pane.Markdown:
        chosen = self._chosen()
        return pn.pane.Markdown(comparison_table(chosen) if chosen else "")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.left, name="Left run"),
                pn.widgets.Select.from_param(self.param.right, name="Right run"),
            ),
            self.maps,
            self.table,
            sizing_mode="stretch_width",
        )
