"""`EmbeddingFrames`: a 2-D picture of the model's feature space after every epoch, for watching
the embedding move while a run trains (the dashboard's "moving embedding").

Why this projection: each frame is the backbone features of one fixed sample of items (at most
`max_items`, drawn once with a fixed seed, the same items every epoch), scaled to unit length
(their directions, which the contrastive losses compare: otherwise a few items of large norm set
the axes and squash the rest into a corner), projected onto the two principal axes of the
*first* frame's features. The PCA (mean and two directions) is fitted
once, on the first epoch this callback sees, and every later frame is projected with that same
fitted map, so the axes mean the same thing in every frame: a point that moves between frames
moved in feature space, not because the picture was re-fitted. Alternatives set aside: a UMAP per
epoch is not comparable between frames (each fit has its own arbitrary layout) and takes
seconds; one UMAP fitted once and reused through `transform` needs pynndescent's search index
(which `explore.transfer.embedding` avoids: about 13 s for the first fit); fitting on the last
epoch and re-projecting would mean keeping every epoch's features. PCA of 2,000 features is
milliseconds; the cost of a frame is the forward pass of the sample (see `seconds`).

Only the 2-D coordinates are kept (float32, `max_items` x 2 per epoch), never the features.
The features come from `Trainer.embed_items`: eval mode, no gradient, no random generator, and
the training mode is restored afterwards, so the run's random streams, losses and labels are
those of a run without this callback. The sample and the fitted map are the callback's
`state_dict`, so a run resumed from a checkpoint keeps projecting on the same axes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from explore.training.callbacks import Callback
from explore.training.history import EpochRecord
from explore.transfer.embedding import subsample_indices

if TYPE_CHECKING:
    from explore.training.trainer import Trainer

__all__ = ["EmbeddingFrames", "MAX_FRAME_ITEMS", "fit_projection"]

MAX_FRAME_ITEMS = 2000
PROJECTION_NOTE = (
    "Backbone features (unit length) of the same {n} items every epoch, projected on the two "
    "principal axes of the first epoch's features (fitted once): the axes are the same in "
    "every frame, so what moves is the model."
)


def fit_projection(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), components (2, d)) of a PCA of `features` (n, d), float64. Deterministic:
    each direction's sign is fixed so that its largest loading is positive. With fewer than two
    directions of variance the missing ones are zeros (points then lie on a line or a dot)."""
    data = np.asarray(features, dtype=np.float64)
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = np.zeros((2, data.shape[1]))
    for row, direction in enumerate(vt[:2]):
        sign = 1.0 if direction[np.argmax(np.abs(direction))] >= 0 else -1.0
        components[row] = sign * direction
    return mean, components


class EmbeddingFrames(Callback):
    """After every epoch, the fixed sample's features projected with the projection fitted on
    the first epoch: `frames[epoch]` is an (n, 2) float32 array; `sample` the item indices
    (flat pixel indices for a scene), `seconds[epoch]` what the frame cost."""

    def __init__(self, max_items: int = MAX_FRAME_ITEMS, seed: int = 0) -> None:
        self.max_items = int(max_items)
        self.seed = int(seed)
        self.sample: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.frames: dict[int, np.ndarray] = {}
        self.seconds: dict[int, float] = {}

    @property
    def note(self) -> str:
        """One line saying what the frames show."""
        n = 0 if self.sample is None else len(self.sample)
        return PROJECTION_NOTE.format(n=f"{n:,}")

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        started = time.perf_counter()
        if self.sample is None:
            self.sample = subsample_indices(trainer.source.n_items, self.max_items, self.seed)
        features = trainer.embed_items(self.sample).numpy().astype(np.float64)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        self.frames[record.epoch] = self.project(features / np.maximum(norms, 1e-12))
        self.seconds[record.epoch] = time.perf_counter() - started

    def project(self, features: np.ndarray) -> np.ndarray:
        """(n, 2) float32 coordinates of `features` (n, d); the first call fits the projection."""
        if self.mean is None or self.components is None:
            self.mean, self.components = fit_projection(features)
        centred = np.asarray(features, dtype=np.float64) - self.mean
        return (centred @ self.components.T).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        if self.sample is None or self.mean is None or self.components is None:
            return {}
        return {
            "sample": self.sample.tolist(),
            "mean": self.mean.tolist(),
            "components": self.components.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "sample" in state:
            self.sample = np.asarray(state["sample"], dtype=np.int64)
            self.mean = np.asarray(state["mean"], dtype=np.float64)
            self.components = np.asarray(state["components"], dtype=np.float64)
