"""`EpochRecord` and `RunHistory`: what a run did epoch by epoch, kept so it can be replayed.

Saved compactly as one `.npz` (assignments as small integers, everything else as JSON text) and
loaded without pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explore.errors import FileFormatError
from explore.outputs import write_atomic

HISTORY_FORMAT = "explore-history-v1"


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: mean loss parts over its batches, every item's cluster (an (H, W) map
    for a scene, an (N,) vector for an image set), cluster sizes and, when labels exist, metrics
    (scored on labelled items only).

    `assignments` is None when the epoch was evaluated on a sample (sources above the trainer's
    `max_eval_items`: cluster sizes and metrics are then the sample's) and in processes other
    than rank 0 of a distributed run (losses only)."""

    epoch: int
    losses: dict[str, float]
    assignments: np.ndarray | None
    cluster_sizes: list[int]
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready record without the assignments."""
        return {
            "epoch": self.epoch,
            "losses": self.losses,
            "cluster_sizes": self.cluster_sizes,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "map": self.assignments is not None,
        }


class RunHistory:
    """The epochs of one run, in order, plus run-level metadata (method, dataset, settings)."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.records: list[EpochRecord] = []

    def append(self, record: EpochRecord) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> EpochRecord:
        return self.records[index]

    def __iter__(self):
        return iter(self.records)

    @property
    def last(self) -> EpochRecord | None:
        return self.records[-1] if self.records else None

    def curve(self, key: str) -> list[float]:
        """One loss part or metric per epoch (NaN where an epoch lacks it)."""
        return [r.losses.get(key, r.metrics.get(key, float("nan"))) for r in self.records]

    def truncate(self, n_epochs: int) -> None:
        """Keep the first `n_epochs` records (used when resuming from an earlier checkpoint)."""
        del self.records[n_epochs:]

    # ------------------------------------------------------------------ persistence
    def meta(self) -> dict[str, Any]:
        """The history without its maps, JSON-ready: format, metadata and every epoch's
        `EpochRecord.summary` (what the .npz keeps as its `meta` text)."""
        return {
            "format": HISTORY_FORMAT,
            "metadata": self.metadata,
            "epochs": [r.summary() for r in self.records],
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The history as plain arrays: `assignments` (E', ...) small ints, the maps of the E'
        epochs that have one, and `meta` JSON text (`meta`)."""
        arrays = {"meta": np.array(json.dumps(self.meta()))}
        maps = [r.assignments for r in self.records if r.assignments is not None]
        if maps:
            stacked = np.stack(maps)
            top = int(stacked.max()) if stacked.size else 0
            arrays["assignments"] = stacked.astype(np.uint8 if top < 256 else np.int32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RunHistory:
        try:
            meta = json.loads(str(arrays["meta"]))
        except (KeyError, ValueError) as error:
            raise FileFormatError(f"run history has no readable metadata: {error}") from error
        if meta.get("format") != HISTORY_FORMAT:
            raise FileFormatError(f"not an explore run history (format {meta.get('format')!r})")
        history = cls(meta.get("metadata"))
        epochs = meta.get("epochs", [])
        assignments = arrays.get("assignments")
        with_map = [bool(summary.get("map", True)) for summary in epochs]
        n_maps = 0 if assignments is None else len(assignments)
        if n_maps != sum(with_map):
            raise FileFormatError("run history lists epochs without their assignments")
        positions = np.cumsum(with_map) - 1
        for index, summary in enumerate(epochs):
            history.append(
                EpochRecord(
                    epoch=int(summary["epoch"]),
                    losses=dict(summary["losses"]),
                    assignments=(
                        np.asarray(assignments[positions[index]]).astype(np.int64)
                        if with_map[index] and assignments is not None
                        else None
                    ),
                    cluster_sizes=list(summary["cluster_sizes"]),
                    metrics=dict(summary.get("metrics", {})),
                    seconds=float(summary.get("seconds", 0.0)),
                )
            )
        return history

    def save(self, path: str | Path) -> Path:
        """Write `path` (.npz, compressed) atomically (`explore.outputs.write_atomic`)."""
        arrays = self.to_arrays()
        return write_atomic(Path(path), lambda handle: np.savez_compressed(handle, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> RunHistory:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError) as error:
            raise FileFormatError(f"cannot read run history {path}: {error}") from error
        return cls.from_arrays(arrays)

    def __repr__(self) -> str:
        return f"RunHistory({len(self)} epochs, {self.metadata.get('method', '?')})"
