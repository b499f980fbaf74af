"""`TrainingSession`: one browser session's runs, trained in a background thread.

The dashboard builds one session per browser tab. `start()` returns at once: a daemon thread
drives the library's `Trainer` epoch by epoch, and every finished epoch is published through
param (`records`, `epoch`, `status`) on the thread that draws the page
(`explore.dashboard.publishing.PageUpdates`: a served page's event loop). The
session never raises into the server: bad settings and failures (K larger than the data, a
diverging loss) land in `error` with `status = "failed"`. `stop()` asks the trainer to end after
its current batch; `resume()` continues the same model for more epochs; `close()` (called when
the tab closes) stops and joins the thread; `release()` then drops the runs, model and data.

Finished and stopped runs are kept in `runs` (newest last, at most `MAX_RUNS`) for the compare
and embedding views.

A deep run also projects a fixed sample of items after every epoch
(`explore.training.projection.EmbeddingFrames`, one more callback of the same trainer): the
frames (2-D float32 coordinates, one per record) are published in `frames` before the record, for
the moving embedding.

While an epoch runs, `live` holds a provisional map of every item at most every
`LIVE_INTERVAL` seconds (`explore.training.live.LiveAssignments`, one more callback), so a long
epoch still shows its clusters forming; the epoch's record replaces it.

Clusters of the current run can be merged (`merge`, undone by `reset_merges`): a relabelling of
the run's outputs (`explore.metrics.merge_lookup`) kept beside the run in `merges`, by run name,
so a new run starts unmerged; `merged_record` gives an epoch's record relabelled and rescored.
The model and the records keep what the model predicts.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import param

from explore.dashboard.publishing import PageUpdates
from explore.data.images import ImageSet
from explore.data.registry import DEFAULT_SCENE, is_available, list_datasets, load_dataset
from explore.data.scene import Scene
from explore.errors import DataError, ExploreError
from explore.methods import DEEP_METHODS, SHALLOW_METHODS
from explore.metrics import merge_lookup
from explore.runs import Run, build_method, fit_run, score
from explore.training.history import EpochRecord, RunHistory
from explore.training.live import LiveAssignments, LiveMap
from explore.training.projection import EmbeddingFrames

SESSION_METHODS = (*SHALLOW_METHODS, *DEEP_METHODS)
"""What the page trains: the registry's anchors and deep methods (transfer clustering needs an
extractor and a source, which the page does not offer)."""
MAX_RUNS = 6
LIVE_INTERVAL = 2.0  # seconds between provisional maps while an epoch runs (`live`)
PAGE_WAIT = 60.0  # most seconds the training thread waits for the page to draw an epoch
UPLOAD_PREFIX = "upload: "
"""How a session's uploaded dataset is named in its dataset choices ("upload: cube.npy")."""
STATUSES = ("idle", "running", "stopping", "finished", "stopped", "failed")


def available_datasets() -> list[str]:
    """Registered datasets that load without a download: scenes first (the default scene
    first), then image sets. The page offers nothing else, so it reads no arbitrary path, and
    a dataset whose files lead (through symlinks) outside the data folders is not offered."""
    names = [entry.name for entry in list_datasets() if is_available(entry.name, confined=True)]
    return sorted(names, key=lambda name: (name != DEFAULT_SCENE, names.index(name)))


def available_devices() -> list[str]:
    """Device choices: "auto" (GPU when present), "cpu", and "cuda" when a GPU is visible."""
    import torch

    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@functools.lru_cache(maxsize=6)
def load_cached(name: str) -> Scene | ImageSet:
    """A dataset by registry name, loaded once per server process (scenes and image sets are
    immutable, so sessions can share them). Names only, never a path, and only files inside
    the data folders, cache or package (`confined`): the page's values come from the browser,
    which a hostile user controls."""
    return load_dataset(name, download=False, confined=True)


@dataclass
class FinishedRun:
    """A run kept for comparison: its settings, history, final labels and fitted model."""

    name: str
    method: str
    dataset: str
    settings: dict[str, Any]
    history: RunHistory
    labels: np.ndarray
    model: Any
    data: Scene | ImageSet
    seconds: float
    status: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        last = self.history.last
        return dict(last.metrics) if last is not None else {}


def merge_record(
    record: EpochRecord, lookup: np.ndarray, data: Scene | ImageSet | None
) -> EpochRecord:
    """`record` with a merge relabelling (model's cluster k -> merged cluster `lookup[k]`)
    applied: assignments relabelled, sizes added up, metrics scored again on the merged clusters
    of `data` (dropped for an epoch without a map)."""
    lookup = np.asarray(lookup, dtype=np.int64)
    sizes = np.bincount(
        lookup[: len(record.cluster_sizes)],
        weights=np.asarray(record.cluster_sizes, dtype=np.float64),
        minlength=int(lookup.max()) + 1,
    )
    metrics: dict[str, float] = {}
    assignments = None
    if record.assignments is not None:
        assignments = lookup[np.asarray(record.assignments)]
        scores = score(data, assignments) if data else None
        if scores is not None:
            values = scores.as_dict()
            metrics = {k: float(values[k]) for k in record.metrics if k in values}
    return dataclasses.replace(
        record,
        assignments=assignments,
        cluster_sizes=[int(round(v)) for v in sizes],
        metrics=metrics,
    )


class TrainingSession(param.Parameterized):
    """Settings, state and runs of one dashboard session (one training thread at a time)."""

    dataset = param.Selector(default=DEFAULT_SCENE, objects=[DEFAULT_SCENE])
    method = param.Selector(default="sscc", objects=list(SESSION_METHODS))
    n_clusters = param.Integer(
        default=16, bounds=(2, None), softbounds=(2, 64), doc="K, the number of clusters"
    )
    epochs = param.Integer(default=5, bounds=(1, 1000))
    device = param.Selector(default="auto", objects=["auto", "cpu"])
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1))
    config = param.Selector(default="fast", objects=["fast", "paper"])
    band_range = param.Range(default=None, doc="half-open band index range that trains")
    pool_spec = param.Dict(default=None, doc="augmentation pool (to_dict form) for scenes")

    status = param.Selector(default="idle", objects=list(STATUSES), constant=False)
    epoch = param.Integer(default=0, doc="epochs finished by the current run")
    total_epochs = param.Integer(default=0)
    records = param.List(default=[], item_type=EpochRecord, doc="current run's epochs")
    frames = param.List(
        default=[],
        doc="(n, 2) float32 projection of the fixed sample per record (None where an epoch has "
        "none, e.g. an anchor); set before `records`",
    )
    frame_sample = param.Array(
        default=None, allow_None=True, doc="(n,) item indices of the projected sample"
    )
    frame_note = param.String(default="", doc="what the frames show (one line)")
    live = param.ClassSelector(
        class_=LiveMap,
        default=None,
        allow_None=True,
        doc="the running epoch's provisional map (`explore.training.live`), None between runs "
        "and once the epoch's record is out",
    )
    error = param.String(default="")
    message = param.String(default="")
    runs = param.Dict(default={}, doc="finished / stopped runs by name, oldest first")
    run_name = param.String(default="", doc="name of the current run")
    merges = param.Dict(
        default={}, doc="run name -> relabelling of its clusters (model's k -> merged k)"
    )

    def __init__(self, **params: Any) -> None:
        # The choices depend on this machine: set them before validating the given values.
        chosen = {key: params.pop(key) for key in ("dataset", "device") if key in params}
        super().__init__(**params)
        self.param.dataset.objects = available_datasets()
        self.param.device.objects = available_devices()
        self.param.update(**chosen)
        self._thread: threading.Thread | None = None
        self._trainer: Any = None
        self._method: Any = None
        self._data: Scene | ImageSet | None = None
        self._started = 0.0
        self._lock = threading.Lock()
        self._run_count = 0
        self._stop_requested = False
        self._projection: EmbeddingFrames | None = None
        self._uploads: dict[str, Scene | ImageSet] = {}
        self._merged_cache: tuple[Any, EpochRecord] | None = None
        self.run_settings: dict[str, Any] = {}  # what the current run was started with
        self.page_updates = self._page_updates()  # where the thread's results are applied
        # How the training thread said its run ended ("finished", "stopped", "failed") and
        # after how many epochs, set by the thread itself: known even when the page that
        # would have shown it is gone.
        self.last_word: tuple[str, int] | None = None

    def _page_updates(self) -> PageUpdates:
        return PageUpdates()

    def publish(self, update: Any, *args: Any) -> None:
        """`update(*args)` on the thread that draws the page (at once on that thread): how a
        worker thread changes what the page shows."""
        self.page_updates(update, *args)

    # ------------------------------------------------------------------ data
    def load(self, name: str) -> Scene | ImageSet:
        """A dataset by name: this session's upload of that exact name, else a registered
        dataset (`load_cached`, confined). A name is never read as a path."""
        upload = self._uploads.get(name)
        return upload if upload is not None else load_cached(name)

    @property
    def uploads(self) -> dict[str, Scene | ImageSet]:
        """This session's uploaded datasets by their names in the dataset choices."""
        return dict(self._uploads)

    def add_upload(self, label: str, data: Scene | ImageSet, prefix: str = UPLOAD_PREFIX) -> str:
        """Offer uploaded data as "upload: <label>" (`prefix` + label, numbered when the name
        is taken) in this session's dataset choices; returns that name. Nothing earlier is
        replaced."""
        key = f"{prefix}{label}"
        count = 1
        while key in self._uploads:
            count += 1
            key = f"{prefix}{label} ({count})"
        self._uploads[key] = data
        self.param.dataset.objects = [*self.param.dataset.objects, key]
        return key

    def data(self) -> Scene | ImageSet:
        """The selected dataset, with the selected band range for scenes."""
        data = self.load(self.dataset)
        if isinstance(data, Scene) and self.band_range is not None:
            start, stop = (int(v) for v in self.band_range)
            if stop - start < 1:
                raise DataError(
                    f"no training bands are selected (0 of the {data.n_bands} bands of "
                    f"{data.name}): widen 'Training bands' to at least one band"
                )
            if (start, stop) != (0, data.n_bands):
                data = data.select_bands(band_range=(start, stop))
        return data

    @property
    def running(self) -> bool:
        """A run is training, or its results (its last word included) still wait for the
        page."""
        return self._thread_alive or self.page_updates.pending > 0

    @property
    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def trainer(self) -> Any:
        """The current run's `Trainer` (None for k-means or before a start)."""
        return self._trainer

    @property
    def current_data(self) -> Scene | ImageSet | None:
        """The data the current run trains on (None before a start)."""
        return self._data

    @property
    def current_method(self) -> Any:
        """The current run's estimator (None before a start): fitted once the run has ended."""
        return self._method

    # ------------------------------------------------------------------ control
    def start(self) -> bool:
        """Start a new run with the current settings in a background thread. Returns False
        (and sets `error`) when a run is going or the settings are invalid."""
        with self._lock:
            if self.running:
                self.error = "a run is already going: stop it first"
                return False
            self.error = ""
            try:
                data = self.data()
                method = self._build_method(data)
            except (ExploreError, ValueError) as error:
                self._fail(error)
                return False
            self._run_count += 1
            self._data, self._method, self._trainer = data, method, None
            self.run_settings = {
                "method": self.method,
                "dataset": data.name,
                "n_clusters": self.n_clusters,
                "seed": self.seed,
                "config": self.config,
                "band_range": self.band_range,
            }
            self.run_name = f"{self._run_count}. {self.method} on {data.name} (K={self.n_clusters})"
            self._projection = None
            self.param.update(frames=[], frame_sample=None, frame_note="", live=None)
            self.records = []
            self.epoch = 0
            shallow = self.method in SHALLOW_METHODS
            self.total_epochs = 1 if shallow else self.epochs
            self._launch(self._train_shallow if shallow else self._train_deep)
            return True

    def resume(self, extra_epochs: int | None = None) -> bool:
        """Continue the last deep run's model: a run stopped before its last epoch trains on
        to the total it was started for (`extra_epochs` more when given); a finished run trains
        `extra_epochs` more (default `epochs`)."""
        with self._lock:
            if self.running:
                self.error = "a run is already going"
                return False
            if self._trainer is None or self.status not in ("finished", "stopped"):
                self.error = "nothing to resume: start a deep-clustering run first"
                return False
            self.error = ""
            trainer = self._trainer
            if extra_epochs is None and trainer.epoch < trainer.epochs:
                pass  # stopped early: the run's own total is still to reach
            else:
                trainer.epochs = trainer.epoch + int(extra_epochs or self.epochs)
            self.total_epochs = self._trainer.epochs
            self._launch(self._train_deep)
            return True

    def stop(self) -> None:
        """Ask the running trainer to stop after its current batch (returns at once)."""
        if self.running:
            self._stop_requested = True
            if self._trainer is not None:
                self._trainer.request_stop()
            self.status = "stopping"

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the training thread; True when it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop and wait for the thread: called when the browser tab closes."""
        self.stop()
        self.join(timeout)

    def release(self) -> None:
        """Forget the runs, the current run's records, trainer, model and data (the page is
        gone, see `explore.dashboard.app`). Watchers are not called: nothing is redrawn. Raises
        RuntimeError while the training thread runs (it still uses them): `close()` first."""
        if self._thread_alive:
            raise RuntimeError("the training thread is running: close() the session first")
        self._trainer = self._method = self._data = None
        self._uploads = {}
        self._merged_cache = None
        with param.parameterized.discard_events(self):
            self.param.update(runs={}, records=[], frames=[], frame_sample=None, merges={})
        self._projection = None

    # ------------------------------------------------------------------ merges
    def merge_lookup(self) -> np.ndarray | None:
        """The current run's relabelling (model's cluster k -> merged cluster), None unmerged."""
        lookup = self.merges.get(self.run_name)
        return None if lookup is None else np.asarray(lookup, dtype=np.int64)

    def merge(self, clusters: Sequence[int]) -> int:
        """Merge `clusters` (numbers as shown: after earlier merges) of the current run into
        one; returns the merged cluster's number. DataError for fewer than two clusters,
        clusters not in the run, or no epoch yet; nothing changes then."""
        if not self.records:
            raise DataError("no epoch yet: train a run before merging its clusters")
        n_model = len(self.records[-1].cluster_sizes)
        lookup = self.merge_lookup()
        if lookup is None:
            lookup = np.arange(n_model)
        step = merge_lookup(int(lookup.max()) + 1, [clusters])
        merged = step[lookup]
        self.merges = {**self.merges, self.run_name: [int(k) for k in merged]}
        return int(step[min(int(k) for k in clusters)])

    def reset_merges(self) -> None:
        """Undo every merge of the current run."""
        if self.run_name in self.merges:
            self.merges = {k: v for k, v in self.merges.items() if k != self.run_name}

    def merged_record(self, record: EpochRecord) -> EpochRecord:
        """`record` with the current run's merges applied: assignments relabelled, sizes
        added up, metrics scored again on the merged clusters (dropped for an epoch without a
        map); `record` itself when nothing is merged."""
        lookup = self.merge_lookup()
        if lookup is None:
            return record
        key = (id(record), tuple(lookup))
        cached = self._merged_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        merged = merge_record(record, lookup, self.current_data)
        self._merged_cache = (key, merged)
        return merged

    def as_run(self, record: EpochRecord) -> Run:
        """The current run as the library's `Run` at `record` (merged labels and scores when
        clusters are merged): what `explore.export.run_json_bytes` writes, as the CLI would."""
        if self._method is None or self._data is None:
            raise DataError("no run yet: train one first")
        shown = self.merged_record(record)
        if shown.assignments is None:
            raise DataError(f"epoch {record.epoch} has no map (evaluated on a sample)")
        settings = self.run_settings
        band_range = settings.get("band_range")
        extra = {
            "epochs": len(self.records),
            "band_range": band_range and [int(v) for v in band_range],
        }
        if settings["method"] in DEEP_METHODS:
            extra["config"] = settings.get("config")
        return Run(
            name=settings["method"],
            dataset=self._data.name,
            method=self._method,
            labels=np.asarray(shown.assignments),
            scores=score(self._data, shown.assignments),
            seconds=float(sum(r.seconds for r in self.records)),
            settings=extra,
        )

    def history(self) -> RunHistory:
        """The current run's epochs as a `RunHistory` (the model's own clusters)."""
        metadata = {"method": self.run_settings.get("method", self.method)}
        history = RunHistory({**metadata, "dataset": getattr(self._data, "name", "")})
        for record in self.records:
            history.append(record)
        return history

    # ------------------------------------------------------------------ internals
    def _check_size(self, data: Scene | ImageSet) -> None:
        """DataError when K is larger than the number of items of `data`."""
        n_items = data.n_pixels if isinstance(data, Scene) else data.n_images
        if self.n_clusters > n_items:
            raise DataError(
                f"K={self.n_clusters} is larger than the {n_items} items of {data.name}"
            )

    def _build_method(self, data: Scene | ImageSet) -> Any:
        self._check_size(data)
        if self.method in SHALLOW_METHODS:
            return build_method(self.method, data, n_clusters=self.n_clusters, seed=self.seed)
        options: dict[str, Any] = {"epochs": self.epochs}
        if isinstance(data, Scene) and self.pool_spec:
            key = "augmentation" if self.method == "sscc" else "weak_augmentation"
            options[key] = self.pool_spec
        method = build_method(
            self.method,
            data,
            n_clusters=self.n_clusters,
            config=self.config,
            device=self.device,
            seed=self.seed,
            progress=False,  # the page shows progress; the server's terminal stays quiet
            **options,
        )
        method.settings()  # an unknown config fails here, before the thread
        return method

    def _launch(self, target: Any) -> None:
        self._stop_requested = False
        self.last_word = None
        self.param.update(status="running", message=f"{self.run_name}: running")
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._guarded, args=(target,), daemon=True)
        self._thread.start()

    def _guarded(self, target: Any) -> None:
        try:
            target()
        except Exception as error:  # noqa: BLE001 - every failure is shown, never raised
            self._end_failed(error)

    # The training thread's results, each applied on the page's thread in the order made:
    # records, provisional maps, and its last word (the run kept, then status and message).
    def _end_failed(self, error: BaseException) -> None:
        """The training thread failed: show why, keep what it trained."""
        trainer = self._trainer
        self.last_word = ("failed", 0 if trainer is None else trainer.epoch)
        self.publish(self._show_failure, error)

    def _show_failure(self, error: BaseException) -> None:
        self._fail(error)
        self._keep_run("failed")

    def _fail(self, error: BaseException) -> None:
        text = str(error) if isinstance(error, ExploreError | ValueError) else repr(error)
        # shown after the status ("failed: <text>"), in one redraw of the status line
        self.param.update(error=text, status="failed", message=text)

    def _on_epoch(self, record: EpochRecord) -> None:
        self.publish(self._show_epoch, record)
        # the next epoch starts once the page has drawn this one: a busy server (several
        # pages training) slows the runs rather than falling behind them
        self.page_updates.wait_applied(PAGE_WAIT)

    def _show_epoch(self, record: EpochRecord) -> None:
        projection = self._projection
        frame = None if projection is None else projection.frames.get(record.epoch)
        if projection is not None and self.frame_sample is None:
            self.param.update(frame_sample=projection.sample, frame_note=projection.note)
        self.frames = [*self.frames, frame]
        self.live = None  # the epoch's own map replaces the provisional ones
        self.records = [*self.records, record]
        self.epoch = record.epoch
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in record.metrics.items())
        self.message = f"{self.run_name}: epoch {record.epoch}/{self.total_epochs}" + (
            f" ({metrics})" if metrics else ""
        )

    def _on_live(self, live: LiveMap) -> None:
        # a provisional map is skipped while the page has not drawn what came before
        if not self._stop_requested and not self.page_updates.pending:
            self.publish(self._show_live, live)

    def _show_live(self, live: LiveMap) -> None:
        if not self._stop_requested:  # a stop asked meanwhile: the epoch's map comes next
            self.live = live

    def _train_deep(self) -> None:
        if self._trainer is None:  # a new run: preprocessing and model are built here, off
            # the server's event loop (PCA of a large scene takes seconds)
            # The projection runs first: its frame is ready when `_on_epoch` publishes.
            self._projection = EmbeddingFrames()  # the same items in every run of a dataset
            callbacks: list[Any] = [self._projection, self._on_epoch]
            if isinstance(self._data, Scene):  # maps between epoch ends: a long epoch still
                # shows its clusters forming (image sets show images per cluster per epoch)
                callbacks.append(LiveAssignments(self._on_live, interval=LIVE_INTERVAL))
            self._trainer = self._method.make_trainer(self._data, callbacks=callbacks)
            self._trainer.progress = False  # the view shows progress: no bars from the thread
            self.publish(setattr, self, "total_epochs", self._trainer.epochs)
        trainer = self._trainer
        if not self._stop_requested:  # a stop during set-up ends the run before epoch 1
            trainer.fit()
        self._method.adopt_trainer(trainer)
        status = "stopped" if trainer.stop_requested or self._stop_requested else "finished"
        epochs = f"{trainer.epoch} epoch" + ("" if trainer.epoch == 1 else "s")
        self._end(status, f"{self.run_name}: {status} after {epochs}", trainer.epoch)

    def _train_shallow(self) -> None:
        """An anchor (k-means, spectral clustering): one fit through `explore.runs`, shown as
        a one-epoch run."""
        data, method = self._data, self._method
        run = fit_run(self.method, method, data)
        labels = np.asarray(run.labels)
        sizes = np.bincount(labels.ravel(), minlength=method.n_clusters)
        scores = {} if run.scores is None else run.scores.as_dict()
        record = EpochRecord(
            epoch=1,
            losses={},
            assignments=labels,
            cluster_sizes=[int(c) for c in sizes],
            metrics={k: float(scores[k]) for k in ("acc", "nmi", "ari", "kappa") if k in scores},
            seconds=run.seconds,
        )
        self._on_epoch(record)
        self._end("finished", f"{self.run_name}: finished", 1)

    def _end(self, status: str, message: str, epochs: int) -> None:
        """The training thread's last word: keep the run, then say how it ended."""
        self.last_word = (status, epochs)
        self.publish(self._show_end, status, message)

    def _show_end(self, status: str, message: str) -> None:
        self._keep_run(status)
        self.param.update(status=status, message=message)  # one redraw of the status line

    def _keep_run(self, status: str) -> None:
        if not self.records:
            return
        history = RunHistory({"method": self.method, "dataset": self._data.name})
        for record in self.records:
            history.append(record)
        run = FinishedRun(
            name=self.run_name,
            method=self.method,
            dataset=self._data.name,
            settings={
                "n_clusters": self.n_clusters,
                "epochs": self.epoch,
                "seed": self.seed,
                "config": self.config,
                "band_range": self.band_range,
            },
            history=history,
            labels=self.records[-1].assignments,
            model=self._method,
            data=self._data,
            seconds=time.perf_counter() - self._started,
            status=status,
            extra={"frames": list(self.frames), "frame_sample": self.frame_sample},
        )
        runs = {k: v for k, v in self.runs.items() if k != run.name}
        runs[run.name] = run
        while len(runs) > MAX_RUNS:
            runs.pop(next(iter(runs)))
        self.runs = runs
