"""SACC: strongly augmented contrastive clustering.

One backbone and both CC heads shared by three views of each batch: two weak (w1, w2) and one
strong (s). The reference loss (docs/methods.md, section 2.2):
L = L_ins(w1, w2) + L_ins(w2, s) + sigma * [L_clu(w1, w2) + L_clu(w1, s) + L_clu(w2, s)].
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from explore.errors import DataError
from explore.methods.cc import CC

VIEWS = ("w1", "w2", "s")


def _check_pairs(pairs: Any, name: str) -> tuple[tuple[str, str], ...]:
    try:
        checked = tuple((str(a), str(b)) for a, b in pairs)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"{name} must be pairs of view names from {VIEWS}; got {pairs!r}"
        ) from error
    for a, b in checked:
        if a not in VIEWS or b not in VIEWS or a == b:
            raise DataError(f"{name}: ({a!r}, {b!r}) is not a pair of two views from {VIEWS}")
    return checked


class SACC(CC):
    """Strongly augmented contrastive clustering: CC with a third, strong view.

    `sigma` weighs the cluster terms; `instance_pairs` and `cluster_pairs` choose which pairs of
    views ("w1", "w2", "s") are contrasted (defaults: the reference code's pairs). The strong
    pool defaults to `sacc_strong` for images (`glyph_strong` for single-channel images of
    handwriting or characters in the fast config, see `CC`) and `strong` for hyperspectral
    patches. Other settings and configs as `CC` (Adam lr 3e-4 in the paper config)."""

    name: ClassVar[str] = "sacc"
    VIEW_POOLS: ClassVar[dict[str, str]] = {**CC.VIEW_POOLS, "_strong": "strong_augmentation"}

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        sigma: float = 1.0,
        instance_pairs: tuple[tuple[str, str], ...] = (("w1", "w2"), ("w2", "s")),
        cluster_pairs: tuple[tuple[str, str], ...] = (("w1", "w2"), ("w1", "s"), ("w2", "s")),
        **kwargs: Any,
    ) -> None:
        super().__init__(n_clusters, **kwargs)
        self.sigma = sigma
        self.instance_pairs = instance_pairs
        self.cluster_pairs = cluster_pairs

    def build_model(self, in_channels: int) -> nn.Module:
        self._instance_pairs = _check_pairs(self.instance_pairs, "instance_pairs")
        self._cluster_pairs = _check_pairs(self.cluster_pairs, "cluster_pairs")
        if not self.sigma >= 0:
            raise DataError(f"sigma must be >= 0; got {self.sigma}")
        model = super().build_model(in_channels)
        self._strong = self._pool("strong")
        return model

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        anchors, partners = self.view_sources(batch)
        views = {
            "w1": self._weak(anchors, generator),
            "w2": self._weak(partners, generator),
            "s": self._strong(anchors, generator),
        }
        instances, assignments = self._project_views(model, views)
        return self._pair_losses(
            instances, assignments, self._instance_pairs, self._cluster_pairs, self.sigma
        )
