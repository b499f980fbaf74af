"""Merge and export controls of the Training tab (`RunTools`), over the epoch a `TrainingView`
shows.

Merging: pick two or more of the shown run's clusters and merge them into one
(`TrainingSession.merge`); every view of the run then draws the merged clusters, and "Reset
merges" undoes them. Merges relabel the run's outputs, never the model.

Export: the shown epoch's cluster map as PNG (the page's colours, the scene's aspect), its
labels as .npy, the map as GeoTIFF on the scene's georeference (when it has one and rasterio is
installed), and the run as JSON (`explore.export`). The browser downloads the bytes
(`pn.widgets.FileDownload` callbacks); nothing is written on the server. File names say dataset,
method, K, seed, epoch and, after merges, the merged number of clusters.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import panel as pn
import param

from explore.dashboard.session import TrainingSession
from explore.data.lazy import geotiff_bytes, is_georeferenced
from explore.data.scene import Scene
from explore.errors import ExploreError
from explore.export import export_filename, labels_npy_bytes, map_png_bytes, run_json_bytes

EXPORTS = (  # (key, button label, file extension)
    ("png", "Map PNG", "png"),
    ("npy", "Labels .npy", "npy"),
    ("geotiff", "Map GeoTIFF", "tif"),
    ("json", "Run JSON", "json"),
)
FAILED_NAME = "export-failed.txt"


def geotiff_problem(data: Any) -> str:
    """Why the shown data's map cannot be a GeoTIFF ("" when it can)."""
    if not isinstance(data, Scene):
        return "GeoTIFF: image sets have no map."
    if importlib.util.find_spec("rasterio") is None:
        return "GeoTIFF: needs rasterio (pip install explore[geotiff])."
    if not is_georeferenced(data):
        return f"GeoTIFF: {data.name} has no georeference (not read from a GeoTIFF)."
    return ""


class RunTools(pn.viewable.Viewer):
    """Merge the shown run's clusters; download its map, labels and history. `view` is the
    `TrainingView` whose shown epoch this exports (its merged `record()` and `palette()`)."""

    session = param.ClassSelector(class_=TrainingSession)
    view = param.Parameter(doc="the TrainingView whose shown epoch is merged and exported")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.merge_choice = pn.widgets.MultiChoice(
            label="Clusters to merge",
            options={},
            placeholder="pick two or more clusters",
            css_classes=["merge-choice"],
            width=330,
        )
        self.merge_button = pn.widgets.Button(
            label="Merge", color="primary", css_classes=["merge-button"], width=90
        )
        self.reset_button = pn.widgets.Button(
            label="Reset merges", css_classes=["reset-merges-button"], width=120
        )
        self.merge_button.on_click(lambda event: self.merge())
        self.reset_button.on_click(lambda event: self.reset())
        self.message = pn.pane.Markdown(
            "", css_classes=["merge-message"], margin=(5, 10), visible=False
        )
        # shown only when it says something (an empty pane would still take its height)
        self.message.param.watch(self._show_message, "object")
        self.downloads = {
            key: pn.widgets.FileDownload(
                callback=self._download_callback(key),
                filename=f"no-epoch.{extension}",
                label=label,
                color="default",
                css_classes=[f"download-{key}"],
                width=130,
            )
            for key, label, extension in EXPORTS
        }
        self.export_note = pn.pane.Markdown(
            "", css_classes=["export-note"], styles={"color": "#555", "font-size": "0.9em"}
        )
        self.view.param.watch(self.refresh, "shown")
        self.session.param.watch(self.refresh, ["merges", "records", "dataset"])
        # A message is about the run it was written for: the next run clears it. (Not a dataset
        # change: cleared from the upload's handler, the page fetched the pane's stylesheets
        # from Panel's CDN, which an offline user does not reach.)
        self.session.param.watch(self._clear_message, ["run_name"])
        self.refresh()

    def _show_message(self, event: param.parameterized.Event) -> None:
        self.message.visible = bool(event.new)

    def _clear_message(self, *events: Any) -> None:
        self.message.object = ""

    # ------------------------------------------------------------------ merging
    def merge(self) -> bool:
        """Merge the chosen clusters; a one-line reason in the page when it cannot."""
        try:
            chosen = [int(k) for k in self.merge_choice.value]
        except (TypeError, ValueError):
            self.message.object = "Not merged: clusters are chosen by their numbers."
            return False
        if len(chosen) < 2:
            self.message.object = "Choose at least two clusters to merge."
            return False
        try:
            merged = self.session.merge(chosen)
        except ExploreError as error:
            self.message.object = f"Not merged: {error}"
            return False
        record = self.view.record()
        count = len(record.cluster_sizes) if record is not None else 0
        names = ", ".join(str(k) for k in sorted(chosen))
        self.message.object = (
            f"Merged clusters {names} into cluster {merged}: {count} clusters now. The model is "
            "unchanged; 'Reset merges' undoes this."
        )
        self.merge_choice.value = []
        return True

    def pick(self, cluster: int) -> None:
        """Add `cluster` (a number as shown) to the clusters to merge, as a click on the map
        does; a cluster already chosen or not in the shown epoch changes nothing."""
        options = self.merge_choice.options
        labels = {value: label for label, value in options.items()}
        if cluster not in labels or cluster in self.merge_choice.value:
            return
        self.merge_choice.value = [*self.merge_choice.value, cluster]
        chosen = len(self.merge_choice.value)
        more = "; pick another" if chosen < 2 else ", then press Merge"
        self.message.object = f"Picked {labels[cluster]} on the map{more}."

    def reset(self) -> None:
        """Undo every merge of the shown run."""
        merged = self.session.merge_lookup() is not None
        self.session.reset_merges()
        self.message.object = "Merges undone: the run's own clusters." if merged else ""

    # ------------------------------------------------------------------ export
    def filename(self, extension: str) -> str:
        """The download's name for the shown epoch: dataset, method, K, seed, epoch (and the
        merged number of clusters after merges)."""
        record = self.view.record()
        settings = self.session.run_settings
        if record is None or not settings:
            return f"no-epoch.{extension}"
        merged = None if self.session.merge_lookup() is None else len(record.cluster_sizes)
        return export_filename(
            settings["dataset"],
            settings["method"],
            settings["n_clusters"],
            settings["seed"],
            record.epoch,
            extension,
            merged_to=merged,
        )

    def export_bytes(self, key: str) -> bytes:
        """The bytes of one export of the shown epoch; ExploreError / ValueError when it has
        none (no epoch yet, an image set's PNG, a scene without georeference)."""
        record = self.view.record()
        trained = self.view.trained_record()
        data = self.session.current_data
        if record is None or trained is None or data is None:
            raise ValueError("no epoch yet: train a run first")
        if key == "json":
            return run_json_bytes(
                self.session.as_run(trained),
                self.session.history(),
                epoch=record.epoch,
                merges=self.session.merge_lookup(),
            )
        if record.assignments is None:
            raise ValueError(f"epoch {record.epoch} has no map (evaluated on a sample)")
        labels = np.asarray(record.assignments)
        if key == "npy":
            return labels_npy_bytes(labels)
        if key == "png":
            if not isinstance(data, Scene):
                raise ValueError("image sets have no map to draw: export the .npy")
            return map_png_bytes(labels, self.view.palette() or ["#000000"])
        if key == "geotiff":
            problem = geotiff_problem(data)
            if problem:
                raise ValueError(problem)
            return geotiff_bytes(labels.astype(np.int16), data)
        raise ValueError(f"unknown export {key!r}")

    def _download_callback(self, key: str) -> Callable[[], io.BytesIO]:
        def callback() -> io.BytesIO:
            widget = self.downloads[key]
            try:
                data = self.export_bytes(key)
            except Exception as error:  # noqa: BLE001 - shown in the page, never raised
                # FileDownload must get a file: a short text one, named as a failure
                self.message.object = f"Export failed: {error}"
                widget.filename = FAILED_NAME
                return io.BytesIO(f"export failed: {error}\n".encode())
            widget.filename = self.filename(dict((k, e) for k, _, e in EXPORTS)[key])
            return io.BytesIO(data)

        return callback

    # ------------------------------------------------------------------ state
    def refresh(self, *events: Any) -> None:
        """Choices, file names and which buttons work, for the shown epoch."""
        record = self.view.record()
        data = self.session.current_data
        if record is None:
            self.merge_choice.options = {}
        else:
            self.merge_choice.options = {
                f"cluster {k} ({size} items)": k for k, size in enumerate(record.cluster_sizes)
            }
        self.merge_choice.value = [
            k for k in self.merge_choice.value if k in self.merge_choice.options.values()
        ]
        self.merge_button.disabled = record is None
        self.reset_button.disabled = self.session.merge_lookup() is None
        reasons: list[str] = []
        if record is None:
            reasons.append("Downloads appear after the first epoch.")
        enabled = {key: record is not None for key, _, _ in EXPORTS}
        if record is not None:
            if record.assignments is None:
                enabled.update(png=False, npy=False, geotiff=False)
                reasons.append(f"Epoch {record.epoch} has no map (evaluated on a sample).")
            if not isinstance(data, Scene):
                enabled["png"] = False
                reasons.append("Image sets have no map picture: the .npy has the labels.")
            problem = geotiff_problem(data)
            if problem:
                enabled["geotiff"] = False
                reasons.append(problem)
        for key, _, extension in EXPORTS:
            widget = self.downloads[key]
            widget.disabled = not enabled[key]
            widget.filename = self.filename(extension)
        self.export_note.object = " ".join(dict.fromkeys(reasons))

    def __panel__(self) -> pn.viewable.Viewable:
        # The two groups side by side where they fit, else one under the other (a notebook's
        # output is narrower than the page's main area).
        return pn.FlexBox(
            pn.Column(
                pn.pane.Markdown("**Merge clusters**", margin=(0, 10)),
                pn.Row(self.merge_choice, self.merge_button, self.reset_button),
                self.message,
                width=600,
            ),
            pn.Column(
                pn.pane.Markdown("**Download the shown epoch**", margin=(0, 10)),
                pn.Row(*self.downloads.values()),
                self.export_note,
                width=580,
            ),
            css_classes=["run-tools"],
            flex_wrap="wrap",
            sizing_mode="stretch_width",
        )
