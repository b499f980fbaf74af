"""Data sources: what the `Trainer` iterates over, one protocol for scenes and image sets.

A source serves batches of inputs on the training device by item index, says which items train,
and scores an assignment of every item against the labels it has (labelled items only).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from explore.data.images import ImageSet
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError
from explore.metrics import evaluate, score_scene

SCORE_KEYS = ("acc", "nmi", "ari", "kappa")


class DataSource(Protocol):
    """What the trainer needs from data."""

    n_items: int
    in_channels: int
    assignment_shape: tuple[int, ...]
    has_labels: bool

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Inputs (n, C, P, P) on the device for item indices (a CPU LongTensor)."""
        ...

    def train_indices(self) -> torch.Tensor:
        """The items that train (CPU LongTensor)."""
        ...

    def score(self, assignments: np.ndarray) -> dict[str, float]:
        """Metrics of an assignment (shaped `assignment_shape`) on labelled items."""
        ...


class SceneSource:
    """Pixel-centred patches of a (preprocessed) scene; items are pixels in row-major order.

    `train_on`: "all" pixels (default: clustering needs no labels) or "labelled" pixels only
    (the SSCC reference code's choice)."""

    def __init__(
        self,
        scene: Scene,
        *,
        patch_size: int = 11,
        device: torch.device | str = "cpu",
        train_on: str = "all",
    ) -> None:
        if train_on not in {"all", "labelled"}:
            raise DataError(f"train_on must be 'all' or 'labelled'; got {train_on!r}")
        if train_on == "labelled" and not scene.labelled_mask.any():
            raise DataError(f"train_on='labelled' but scene {scene.name!r} has no labelled pixel")
        self.scene = scene
        self.train_on = train_on
        self.sampler = PatchSampler(scene.cube, patch_size, device=device)
        self.n_items = scene.n_pixels
        self.in_channels = scene.n_bands
        self.assignment_shape = scene.shape[:2]
        self.has_labels = scene.labels is not None and bool(scene.labelled_mask.any())

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self.sampler.patches(indices)

    def train_indices(self) -> torch.Tensor:
        if self.train_on == "labelled":
            return torch.from_numpy(np.flatnonzero(self.scene.labelled_mask.ravel()))
        return torch.arange(self.n_items)

    def score(self, assignments: np.ndarray) -> dict[str, float]:
        if not self.has_labels:
            return {}
        scores = score_scene(self.scene.labels, assignments).as_dict()
        return {key: float(scores[key]) for key in SCORE_KEYS}


class ImageSource:
    """Whole images of an `ImageSet`, held once on the device (N, C, H, W) in [0, 1]; items are
    images; unknown labels (-1) are not scored."""

    def __init__(self, images: ImageSet, *, device: torch.device | str = "cpu") -> None:
        self.images = images
        self.tensor = images.to_tensor(device)
        self.n_items = images.n_images
        self.in_channels = images.n_channels
        self.assignment_shape = (images.n_images,)
        self.has_labels = images.labels is not None and bool((images.labels >= 0).any())

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self.tensor[indices.to(self.tensor.device)]

    def train_indices(self) -> torch.Tensor:
        return torch.arange(self.n_items)

    def score(self, assignments: np.ndarray) -> dict[str, float]:
        if not self.has_labels:
            return {}
        scores = evaluate(self.images.labels, assignments, ignore_label=-1).as_dict()
        return {key: float(scores[key]) for key in SCORE_KEYS}
