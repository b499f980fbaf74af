"""`build_dashboard()`: the page `apps/hsi_dashboard.py` serves, one per browser session.

It makes a `TrainingSession` and the components over it, links them (the sidebar's dataset
drives the scene view; the scene view's band range and the pool editor's pool feed the next
run; a selection in the embedding, or in the moving embedding under the Training tab's maps,
highlights pixels on the cluster map and a box drawn on the map (box-select tool on the
Training tab) highlights those pixels' points in both embeddings), and
ends the session when Bokeh destroys it (a closed tab, after `--unused-session-lifetime`):
`Dashboard.end_session` stops the training thread, removes the session's upload folder
(`explore.dashboard.upload`), waits for the thread off the event loop, drops the session's
runs, model and data, returns the freed memory to the system (`release_memory`:
`gc.collect()` and glibc's `malloc_trim(0)`), so the server's memory comes back after its
sessions end, and then logs one line (logger `explore.dashboard.app`, INFO, in the server's
output): "session ended: run '...' <status> after <n> of <total> epochs; training thread
ended, memory released (<k> live)". A served session's start is logged too ("session started
(<k> live)").
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import sys
import threading
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param
from bokeh.core.validation import silence
from bokeh.core.validation.warnings import FIXED_SIZING_MODE
from panel.theme import fast as panel_fast

from explore.dashboard import access
from explore.dashboard.augmentation_preview import AugmentationPreview
from explore.dashboard.compare_view import CompareView
from explore.dashboard.embedding_view import EmbeddingView
from explore.dashboard.moving_embedding import MovingEmbeddingView
from explore.dashboard.pool_editor import PoolEditor
from explore.dashboard.scene_view import SceneView
from explore.dashboard.session import TrainingSession
from explore.dashboard.training_controls import TrainingControls
from explore.dashboard.training_view import TrainingView, _truth_of, cluster_palette
from explore.dashboard.upload import UploadControl
from explore.data.scene import Scene
from explore.transfer.embedding import subsample_indices

TITLE = "explore: deep clustering of hyperspectral images"
START_HERE = (
    "**Start here:** pick a dataset and its training bands (sidebar, Scene tab), look at the "
    "augmentation pool, press Start and watch the Training tab, then embed the run and compare "
    "runs."
)
MAX_EMBEDDED = 5000
END_TIMEOUT = 120.0  # seconds an ended session waits for its training thread's current batch

log = logging.getLogger(__name__)

# Maps are sized by their frame (`frame_width` / `frame_height`, see
# `scene_view.map_frame`), which is what keeps a scene's aspect ratio exact; HoloViews then
# makes the plot and its pane 'fixed' without `width` / `height`, which Bokeh's layout check
# reports (W-1005) although Bokeh sizes such plots from their frame. Not a problem here.
silence(FIXED_SIZING_MODE, True)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None (not Linux, another C library, no symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (ValueError, OSError, AttributeError):
        return None


def release_memory() -> None:
    """Collect garbage, then give the heap pages it freed back to the system: glibc keeps freed
    memory in its arenas (each training thread allocates from one of its own), so without
    `malloc_trim(0)` the server's resident memory stays near its peak after sessions end.
    On other platforms only the collection runs."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class Fast(panel_fast.Fast):
    """Panel's Fast design without its web font (Open Sans from fonts.googleapis.com): the page
    asks no host but its own server for anything (users run offline); text is drawn in the
    system's font. Named like Panel's class: Panel finds a design's bundled files by its class
    name ("fast/js/fast_design.js")."""

    _resources = {**panel_fast.Fast._resources, "font": {}}


PAGE_STYLE: dict[str, Any] = {"design": Fast, "font": "system-ui, sans-serif"}


class _LiveSessions:
    """How many served sessions have started and not yet ended (for the log lines)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live = 0

    def count(self, change: int) -> int:
        """Add `change` (+1 a session started, -1 one ended); returns the new count."""
        with self._lock:
            self._live += change
            return self._live


_LIVE = _LiveSessions()


class Dashboard:
    """The components of one session and the links between them."""

    served = False  # True for a page served by `panel serve` (counted in the log lines)

    def __init__(self) -> None:
        self.session = TrainingSession()
        self.scene_view = SceneView(loader=self.session.load)
        self.upload = UploadControl(session=self.session)
        self.pool_editor = PoolEditor()
        self.preview = AugmentationPreview(editor=self.pool_editor, scene=self.scene_view.scene)
        self.controls = TrainingControls(session=self.session)
        self.training_view = TrainingView(session=self.session)
        self.moving_embedding = MovingEmbeddingView(training_view=self.training_view)
        self.training_view.below_map = self.moving_embedding
        self.embedding_view = EmbeddingView()
        self.compare_view = CompareView(session=self.session)
        self.embed_button = pn.widgets.Button(
            label="Embed the last run", color="primary", css_classes=["embed-button"]
        )
        self.embed_button.on_click(lambda event: self.embed_last_run())
        self.embed_status = pn.pane.Markdown("", css_classes=["embed-status"])
        self._embedded_run = ""  # the run whose features the embedding view holds

        self.session.param.watch(self._on_dataset, "dataset")
        self.scene_view.param.watch(self._on_scene, "dataset")
        self.scene_view.param.watch(self._on_train_bands, "train_bands")
        self.pool_editor.param.watch(self._on_pool, "pool")
        self.embedding_view.param.watch(self._on_embedding_selection, "map_selection")
        self.training_view.param.watch(self._on_map_selection, "map_selection")
        self.embedding_view.param.watch(self._on_embedded, "points")
        self.moving_embedding.param.watch(self._on_moving_selection, "map_selection")
        self._on_train_bands()
        self._on_pool()

    # ------------------------------------------------------------------ links
    def _on_dataset(self, *events: Any) -> None:
        name = self.session.dataset
        if isinstance(self.session.uploads.get(name), Scene):
            self.scene_view.add_scene(name)
        if name in self.scene_view.param.dataset.objects:
            self.scene_view.dataset = name

    def _on_scene(self, *events: Any) -> None:
        self.preview.scene = self.scene_view.scene

    def _on_train_bands(self, *events: Any) -> None:
        if self.session.dataset == self.scene_view.dataset:
            self.session.band_range = tuple(self.scene_view.train_bands)

    def _on_pool(self, *events: Any) -> None:
        self.session.pool_spec = self.pool_editor.pool.to_dict()

    def _embedding_is_current(self) -> bool:
        """Whether the embedding shows the run the Training tab shows (same run, same data);
        True when its features did not come from a run (set directly)."""
        return not self._embedded_run or self._embedded_run == self.session.run_name

    def _on_embedding_selection(self, event: Any) -> None:
        """A box in the embedding: outline those pixels on the map, when the embedding is of
        the run the map shows (a highlight belongs to one run and dataset)."""
        selected = event.new
        if not self._embedding_is_current():
            self.training_view.highlight = None
            if selected:
                self.embedding_view.status = (
                    f"{len(selected)} points selected in the embedding of "
                    f"'{self._embedded_run}'; the map shows another run "
                    f"('{self.session.run_name or 'none'}'): embed it to link them."
                )
            return
        self.training_view.highlight = None if selected is None else np.asarray(selected)

    def _on_moving_selection(self, event: Any) -> None:
        """A box in the moving embedding: outline those pixels on the map (it always shows the
        map's run, so the highlight belongs to that run)."""
        self.training_view.highlight = np.asarray(event.new) if event.new else None

    def _on_embedded(self, event: Any) -> None:
        """New embedding points: highlight the pixels of the box on the map, if any."""
        if event.new is not None and self.training_view.map_selection:
            status = self.embedding_view.status
            message = self._highlight_map_selection(self.training_view.map_selection)
            self.embedding_view.status = f"{status} {message}"

    def _on_map_selection(self, event: Any) -> None:
        """A box on the cluster map: highlight those pixels' points in both embeddings."""
        pixels = event.new
        chosen = self.moving_embedding.highlight_pixels(pixels if pixels else None)
        self.moving_embedding.status = (
            f"{len(pixels)} pixels selected on the map; {chosen.size} of them are in the "
            "moving embedding (highlighted)."
            if pixels
            else ""
        )
        self.embedding_view.status = self._highlight_map_selection(event.new)

    def _highlight_map_selection(self, pixels: list[int]) -> str:
        """Highlight these pixels' embedded points; returns a status line saying how many."""
        view = self.embedding_view
        if view.points is not None and pixels and not self._embedding_is_current():
            view.highlight_pixels(None)
            return (
                f"{len(pixels)} pixels selected on the map of another run than the embedded "
                f"'{self._embedded_run}': embed the shown run to see them."
            )
        if view.points is None:
            if pixels:
                return (
                    f"{len(pixels)} pixels selected on the map: compute the embedding to see them."
                )
            return view.status
        chosen = view.highlight_pixels(pixels if pixels else None)
        if not pixels:
            return "Map selection cleared."
        return (
            f"{len(pixels)} pixels selected on the map; {chosen.size} of them are embedded "
            "(highlighted)."
        )

    # ------------------------------------------------------------------ embedding
    def embed_last_run(self, wait: bool = False) -> bool:
        """Compute the last run's embedding (in a thread) and hand it to the embedding view,
        which runs UMAP in its own thread: the page never waits."""
        runs = self.session.runs
        if not runs:
            self.embed_status.object = "Train a run first."
            return False
        run = runs[next(reversed(runs))]
        self.embed_status.object = f"Computing the embedding of {run.name}..."
        thread = threading.Thread(target=self._embed, args=(run,), daemon=True)
        thread.start()
        if wait:
            thread.join()
            self.embedding_view.compute(wait=True)
        return True

    def _embed(self, run: Any) -> None:
        try:
            data = run.data
            index = subsample_indices(data.n_items, MAX_EMBEDDED, seed=0)
            features = run.model.transform(data)[index]
            run_labels = np.ravel(run.labels)
            n_clusters = run.settings.get("n_clusters", 0)
            lookup = self.session.merges.get(run.name)
            if lookup is not None:  # the run's merges, as the map draws them
                lookup = np.asarray(lookup, dtype=np.int64)
                run_labels, n_clusters = lookup[run_labels], int(lookup.max()) + 1
            labels = run_labels[index]
            truth = _truth_of(data)
            classes = None if truth is None else np.ravel(truth)[index]
            palette = cluster_palette(
                run_labels, None if truth is None else np.ravel(truth), n_clusters
            )
            shown = {
                "features": np.asarray(features, dtype=np.float32),
                "assignments": labels.astype(np.int64),
                "cluster_palette": palette,
                "class_labels": classes,  # 1..C, 0 unlabelled (`_truth_of`), named by the data
                "class_names": list(data.class_names) or None,
                "zero_is_unlabelled": True,
                "pixel_index": index if isinstance(data, Scene) else None,
            }
        except Exception as error:  # noqa: BLE001 - shown in the page, never raised
            self.session.publish(setattr, self.embed_status, "object", f"Embedding failed: {error}")
            return
        self.session.publish(self._show_embedding, run.name, shown)

    def _show_embedding(self, run_name: str, shown: dict[str, Any]) -> None:
        """On the page's thread: hand a run's embedding to the embedding view and start UMAP."""
        self._embedded_run = run_name
        self.embedding_view.param.update(**shown)
        n_items = len(shown["features"])
        self.embed_status.object = f"Embedding of {run_name}: {n_items} items."
        self.embedding_view.compute()

    # ------------------------------------------------------------------ end
    def end_session(self, timeout: float = END_TIMEOUT) -> threading.Thread:
        """The page's session was destroyed: ask its training to stop and, in a thread (the
        server's event loop never waits for a batch), wait for it to end, drop the session's
        runs, model and data (`release`), hand the freed memory back to the system
        (`release_memory`) and log how the run ended. Returns that thread."""
        self.session.stop()
        ender = threading.Thread(
            target=self._finish_end, args=(timeout,), daemon=True, name="explore-session-end"
        )
        ender.start()
        return ender

    def _finish_end(self, timeout: float) -> None:
        self.upload.remove()  # uploads were read into memory: their files are not in use
        session = self.session
        ended = session.join(timeout)
        run = session.run_name or "no run"
        if not ended:  # the thread still uses the model: keep everything, say so
            log.warning(
                "session ended: run '%s' still training after %.0f s (%d of %d epochs; %d live)",
                run,
                timeout,
                session.epoch,
                session.total_epochs,
                _LIVE.count(-1 if self.served else 0),
            )
            return
        # the thread's own word: its last results were for a page that is gone
        status, epochs = session.last_word or (session.status, session.epoch)
        self.release()
        release_memory()
        log.info(
            "session ended: run '%s' %s after %d of %d epochs; training thread ended, memory "
            "released (%d live)",
            run,
            status,
            epochs,
            session.total_epochs,
            _LIVE.count(-1 if self.served else 0),
        )

    def release(self) -> None:
        """Drop what the closed page's session holds (runs, model, trainer, data, embedding
        arrays) without redrawing anything. Needed: Bokeh's destroyed document keeps its
        session-destroyed callbacks, whose closure holds this dashboard, until the session's
        context is dropped after the hooks return; the dashboard is then cyclic garbage that
        only Python's next full collection frees, which an idle server may not run for a long
        time. Meanwhile it keeps only small objects."""
        self.session.release()
        self.upload.remove()
        with param.parameterized.discard_events(self.embedding_view):
            cleared = ("features", "assignments", "class_labels", "pixel_index", "points")
            self.embedding_view.param.update(dict.fromkeys((*cleared, "sample_index"), None))
        with param.parameterized.discard_events(self.training_view):
            self.training_view.highlight = None
        with param.parameterized.discard_events(self.moving_embedding):
            self.moving_embedding.param.update(selection=[], map_selection=[], highlighted=[])

    # ------------------------------------------------------------------ layout
    def main(self) -> pn.Tabs:
        return pn.Tabs(
            ("Scene", self.scene_view),
            ("Augmentation pool", pn.Row(self.pool_editor, self.preview)),
            ("Training", self.training_view),
            (
                "Embedding",
                pn.Column(pn.Row(self.embed_button, self.embed_status), self.embedding_view),
            ),
            ("Compare", self.compare_view),
            dynamic=True,
        )

    def start_here(self) -> pn.pane.Markdown:
        """One line at the top of the page: what to do first, in order."""
        return pn.pane.Markdown(START_HERE, css_classes=["start-here"], margin=(0, 10))

    def sidebar(self) -> list[pn.viewable.Viewable]:
        return [
            pn.pane.Markdown("### Run"),
            self.controls,
            pn.pane.Markdown("### Your own data"),
            self.upload,
            pn.pane.Markdown("### Scene"),
            self.scene_view.controls(),
        ]


def build_dashboard() -> pn.template.FastListTemplate:
    """The dashboard page for one browser session; its thread stops when the session ends.
    A browser on another machine gets `access.refusal_page` (nothing loaded, no session
    state) unless `EXPLORE_DASHBOARD_REMOTE=1`: even a plain `panel serve`, which listens on
    every interface, stays closed by default."""
    if log.getEffectiveLevel() > logging.INFO:  # session ends reach the server's output
        log.setLevel(logging.INFO)
    pn.extension(sizing_mode="stretch_width")
    # A layout keeps the sizing mode it was given instead of taking a child's (Panel warned at
    # each such override: "sizing_mode=None on Column is being overridden ...").
    pn.config.respect_explicit_sizing = True
    hv.extension("bokeh")
    refused = access.refused_client()
    if refused is not None:  # a browser on another machine: nothing is built for it
        log.warning(
            "refused the dashboard to %s (set %s=1 to serve it)", refused, access.REMOTE_ENV
        )
        return access.refusal_page(refused, TITLE, **PAGE_STYLE)
    dashboard = Dashboard()
    template = pn.template.FastListTemplate(
        title=TITLE,
        sidebar=dashboard.sidebar(),
        main=[dashboard.start_here(), dashboard.main()],
        **PAGE_STYLE,
    )
    template.dashboard = dashboard  # type: ignore[attr-defined]
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        # Panes made later by a training or UMAP thread resolve their stylesheets outside
        # the server's rendering, where Bokeh's default resource mode (its CDN) applies: the
        # page would then ask cdn.holoviz.org for them. Serve them here too (offline users).
        os.environ.setdefault("BOKEH_RESOURCES", "server")
        dashboard.served = True
        log.info("session started (%d live)", _LIVE.count(+1))
        pn.state.on_session_destroyed(lambda context: dashboard.end_session())
    return template
