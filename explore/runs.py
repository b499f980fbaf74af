"""One run path for every method: build it from the registry (`explore.methods.METHODS`), fit it
on a dataset (a deep run resuming from its checkpoint when asked), score it on the labelled items
only, and write its outputs atomically: labels.npy and metrics.json, plus history.npz and
checkpoint.pt for a deep run.

The command line (`explore train`, `explore transfer`) and the dashboard run methods through
here; neither scores nor writes a run itself. What a caller adds is presentation: the command
line's flags and printed lines, the dashboard's widgets and plots (both as trainer callbacks).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods import METHODS, method_class
from explore.outputs import check_free_space, write_atomic

if TYPE_CHECKING:  # torch and scikit-learn load only when a run is built or scored
    from explore.data.images import ImageSet
    from explore.metrics import ClusteringScores

__all__ = [
    "DEEP_RUN_FILES",
    "METRICS_BYTES",
    "RUN_FILES",
    "SHALLOW_COMPONENTS",
    "Run",
    "build_method",
    "check_output_space",
    "fit_run",
    "json_bytes",
    "labels_bytes",
    "npy_bytes",
    "score",
    "write_json",
    "write_npy",
]

RUN_FILES = ("metrics.json", "labels.npy")
"""What every run writes."""
DEEP_RUN_FILES = (*RUN_FILES, "history.npz", "checkpoint.pt")
"""What a deep run writes (the trainer writes the checkpoint, epoch by epoch)."""
SHALLOW_COMPONENTS = {"kmeans": 30, "spectral": 10}
"""The anchors' default number of PCA components."""
METRICS_BYTES = 64 << 10
"""Room kept for a metrics.json (a few KiB) in the free-space checks."""


# ---------------------------------------------------------------------------- outputs
def labels_bytes(shape: Sequence[int]) -> int:
    """Bytes of an int16 labels .npy of `shape` (header included)."""
    return int(np.prod(shape)) * 2 + 128


def check_output_space(folder: Path, needed: int, what: str, replaces: Sequence[Path] = ()) -> None:
    """OutputError when `folder`'s filesystem has less than `needed` bytes free, counting the
    files in `replaces` (which the outputs overwrite) as free."""
    reclaimable = sum(path.stat().st_size for path in replaces if path.is_file())
    check_free_space(folder, needed, what=what, reclaimable=reclaimable)


def json_bytes(payload: dict[str, Any]) -> bytes:
    """`payload` as the indented JSON text every run file is written as."""
    return (json.dumps(payload, indent=2) + "\n").encode()


def npy_bytes(array: np.ndarray) -> bytes:
    """`array` as the bytes of a .npy file (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """`payload` as indented JSON (`json_bytes`), written atomically."""
    text = json_bytes(payload)
    write_atomic(path, lambda handle: handle.write(text))


def write_npy(path: Path, array: np.ndarray) -> None:
    """`array` as a .npy (no pickles, as `npy_bytes`), written atomically."""
    write_atomic(path, lambda handle: np.save(handle, array, allow_pickle=False))


def score(data: Scene | ImageSet, labels: np.ndarray) -> ClusteringScores | None:
    """Scores of `labels` on the labelled items of `data` (None when nothing is labelled)."""
    from explore.metrics import score_dataset

    return score_dataset(data, labels)


# ---------------------------------------------------------------------------- building
def _kind(name: str) -> str:
    if name not in METHODS:
        raise DataError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name].kind


def build_method(
    name: str,
    data: Scene | ImageSet,
    *,
    n_clusters: int | None = None,
    seed: int = 0,
    config: str | None = None,
    device: str | None = None,
    progress: bool | None = None,
    components: int | None = None,
    smoothing: float | None = None,
    **options: Any,
) -> Any:
    """The estimator `name` (a key of `explore.methods.METHODS`) for `data`, with K = the
    dataset's number of classes unless `n_clusters` is given.

    Shallow anchors take `components` (PCA, default `SHALLOW_COMPONENTS`) and `smoothing`
    (scenes only); deep methods take `config` (default "fast"), `device` (default "auto"),
    `progress` and any constructor option (`epochs`, `samples_per_epoch`, ...; None = the
    config's). Transfer clustering is built by its caller (it needs an extractor)."""
    kind = _kind(name)
    n_clusters = n_clusters or data.n_classes
    if not n_clusters:
        raise DataError(f"{data.name} has no labels to take K from: give the number of clusters")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 2:
        raise DataError(f"the number of clusters must be an integer >= 2; got {n_clusters!r}")
    if kind == "transfer":
        raise DataError("transfer clustering needs an extractor: build TransferClustering")
    chosen = {key: value for key, value in options.items() if value is not None}
    if kind == "shallow":
        deep_only = {"config": config, "device": device, **chosen}
        given = sorted(key for key, value in deep_only.items() if value is not None)
        if given:
            raise DataError(f"{', '.join(given)} applies to deep methods, not to {name}")
        return method_class(name)(
            n_clusters=n_clusters,
            n_components=SHALLOW_COMPONENTS[name] if components is None else components,
            smoothing_sigma=smoothing if isinstance(data, Scene) else None,
            seed=seed,
        )
    if components is not None or smoothing is not None:
        raise DataError(f"components and smoothing apply to {' and '.join(SHALLOW_COMPONENTS)}")
    return method_class(name)(
        n_clusters=n_clusters,
        config=config or "fast",
        device=device or "auto",
        seed=seed,
        progress=progress,
        **chosen,
    )


# ---------------------------------------------------------------------------- running
@dataclass
class Run:
    """A fitted run: the estimator, its labels (None in a distributed run's other processes),
    the scores on labelled items (None without labels), seconds and the settings it ran with."""

    name: str
    dataset: str
    method: Any
    labels: np.ndarray | None
    scores: ClusteringScores | None
    seconds: float
    settings: dict[str, Any]
    source: str | None = None

    @property
    def kind(self) -> str:
        return METHODS[self.name].kind

    def metrics(self) -> dict[str, Any]:
        """The metrics.json payload: what ran, how long, with which settings, and the scores."""
        if self.kind == "transfer":
            model = self.method
            payload: dict[str, Any] = {
                "method": "transfer",
                "source": self.source,
                "target": self.dataset,
                "n_clusters_inferred": int(model.n_clusters_),
                "seconds": round(self.seconds, 3),
                "timings": {key: round(value, 3) for key, value in model.timings_.items()},
                "adaptations": model.adaptations_,
                "finetune": None if model.finetune_ is None else model.finetune_.as_dict(),
                "settings": self.settings,
            }
        else:
            labels = np.asarray(self.labels)
            payload = {
                "method": self.name,
                "dataset": self.dataset,
                "n_clusters": int(len(np.unique(labels))),
                "seconds": round(self.seconds, 3),
                "settings": {
                    "clusters": int(self.method.n_clusters),
                    "seed": self.method.seed,
                    **self.settings,
                },
            }
        if self.scores is not None:
            payload.update({k: v for k, v in self.scores.as_dict().items() if k != "n_clusters"})
        return payload

    def write(self, out: Path) -> None:
        """labels.npy, metrics.json and (deep runs) history.npz into the folder `out`."""
        if self.labels is None:
            raise DataError("this process holds no labels (only rank 0 writes a run)")
        if self.kind == "deep":
            self.method.history_.save(out / "history.npz")
        write_npy(out / "labels.npy", np.asarray(self.labels).astype(np.int16))
        write_json(out / "metrics.json", self.metrics())


def fit_run(
    name: str,
    method: Any,
    data: Scene | ImageSet,
    *,
    dataset: str | None = None,
    out: Path | None = None,
    resume: bool = False,
    callbacks: Iterable[Callable[[Any], None]] = (),
    on_ready: Callable[[Any], None] | None = None,
    source: ImageSet | None = None,
    source_name: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Run:
    """Fit `method` (registered as `name`) on `data`, score it and, with `out`, write the run.

    Deep methods train through their `Trainer`: with `out`, checkpoints go to
    out/checkpoint.pt and `resume` continues from it; `callbacks` get every epoch's record;
    `on_ready(trainer)` runs before the first epoch (e.g. to announce a resume). Before any
    work, the output folder's free space is checked for what the run will write. Transfer
    clustering fine-tunes on `source` when given. `settings` are recorded beside the method's
    own (e.g. the image size a caller resized to)."""
    kind = _kind(name)
    dataset = dataset or data.name
    started = time.perf_counter()
    recorded = dict(settings or {})
    if kind == "deep":
        checkpoint = None if out is None else out / "checkpoint.pt"
        if resume and (checkpoint is None or not checkpoint.is_file()):
            raise DataError(f"nothing to resume: no checkpoint at {checkpoint}")
        trainer = method.make_trainer(data, callbacks=callbacks, checkpoint_path=checkpoint)
        if resume:
            trainer.load_checkpoint(checkpoint)
        if out is not None:  # the trainer checks its checkpoints' space plus what is written here
            trainer.output_reserve_bytes = (
                trainer.estimated_history_bytes()
                + labels_bytes(trainer.source.assignment_shape)
                + METRICS_BYTES
            )
        if on_ready is not None:
            on_ready(trainer)
        trainer.fit()
        method.adopt_trainer(trainer)
        labels = method.labels_
        recorded = {
            "config": method.config,
            "device": str(trainer.device),
            **method.settings_,
            "processes": trainer.process.world_size,
            **recorded,
        }
        if method.samples_per_epoch is not None:
            recorded["samples_per_epoch"] = method.samples_per_epoch
        if method.settings_.get("budget") is not None:  # the epochs fitted to it
            recorded["budget"] = {"seconds": method.settings_["budget"], "epochs": trainer.epochs}
    else:
        if out is not None:
            shape = data.shape[:2] if isinstance(data, Scene) else (data.n_images,)
            check_output_space(
                out,
                labels_bytes(shape) + METRICS_BYTES,
                "labels.npy and metrics.json",
                [out / file for file in RUN_FILES],
            )
        if kind == "transfer":
            method.fit(data, source=source)
            recorded = {**recorded, **method.settings()}
        else:
            method.fit(data)
            recorded = {
                "components": method.n_components,
                "smoothing": method.smoothing_sigma,
                **recorded,
            }
        labels = method.labels_
    run = Run(
        name=name,
        dataset=dataset,
        method=method,
        labels=labels,
        scores=None if labels is None else score(data, labels),
        seconds=time.perf_counter() - started,
        settings=recorded,
        source=source_name,
    )
    if out is not None and labels is not None:
        run.write(out)
    return run
