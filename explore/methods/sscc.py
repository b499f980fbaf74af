"""SSCC: spectral-spatial contrastive clustering of hyperspectral scenes.

A symmetric twin network (one backbone and one cluster head shared by both views) whose head
has one output per cluster. Each batch of pixel-centred patches is augmented twice by a
spectral-spatial pool; the loss pulls a pixel's two views together (within-cluster similarity)
and decorrelates the clusters (between-cluster redundancy reduction). Trained batch by batch,
it clusters pixels it never saw: `predict` works on any scene with the same bands.
See docs/methods.md, section 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from explore.augment import AugmentationPool, resolve_pool
from explore.errors import DataError
from explore.losses import (
    cluster_contrastive_loss_parts,
    cross_correlation_loss_parts,
    instance_contrastive_loss,
)
from explore.methods.base import DeepClusteringMethod
from explore.models import ClusterHead
from explore.models.dense import BackboneWithHeads
from explore.params import store_init_params

LOSSES = ("paper", "workshop")


class TwinClusterNet(BackboneWithHeads):
    """Backbone + cluster head, shared by every view: `forward` gives soft assignments (N, K),
    `embed` the backbone features (N, d); `dense_forward` every pixel of a tile at once when
    the backbone is dense-capable."""

    def __init__(self, backbone: nn.Module, head: ClusterHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


class SSCC(DeepClusteringMethod):
    """Spectral-spatial contrastive clustering.

    Configurations (`config`): "paper" is the reference code's settings (reference residual
    backbone, 11 x 11 patches of 8 PCA components, batch 512, Adam lr 2e-4, weight decay 5e-3,
    step decay x0.1 every 20 epochs, 40 epochs); "fast" is the CPU default, chosen by measuring
    quality per CPU-second (docs/architecture.md gives the numbers): the dense-capable
    `dense_light7` backbone on 7 x 7 patches, so whole scenes are assigned by one pass per tile,
    and the two choices below. Any hyper-parameter passed explicitly overrides the config.

    Spatial views (`neighbour_radius`, fast: 2; paper: 0): the second view of a pixel is the
    patch of a pixel drawn from the (2r + 1)^2 window around it, so neighbouring pixels (mostly
    of one material) are pulled together. Clusters (`assign`, fast: "kmeans"; paper: "head"):
    "head" reads each pixel's cluster from the K outputs (the published method); "kmeans" runs
    k-means on the L2-normalised backbone features of every pixel after each epoch and assigns
    each pixel (and unseen pixels, in `predict`) to the nearest centre, which the checkpoint
    keeps. Measured (30 epochs, seeds 0-2, one thread; docs/hsi-quality.md has the ablation):
    the head gave ACC 0.821 +- 0.157 on Salinas-A, 0.840 +- 0.058 on Samson and 0.423 +- 0.011 on
    Indian Pines; the fast config gives 0.862 +- 0.025, 0.906 +- 0.003 and 0.440 +- 0.013.

    Loss (`loss`): "paper" (default, the reference code) = `instance_weight` (5e-5) x NT-Xent on
    the L2-normalised K outputs + cross-correlation loss on the K outputs; "workshop" = the
    workshop paper's CC-style instance NT-Xent + cluster contrastive loss with balance term, both
    on the K outputs. Measured with the fast config (docs/hsi-quality.md): "workshop" lifts
    Indian Pines (16 classes) from 0.440 to 0.521 ACC but loses 0.04 on Salinas-A and 0.02 on
    Samson, so "paper" stays the default.

    Augmentation (`augmentation`): a preset name (default "sscc_reference", the pool of the
    reference code), or a pool as `AugmentationPool.to_dict()` gives it (the dashboard's editor).

    Training pixels (`train_on`): "all" (default: clustering needs no labels) or "labelled" (the
    reference code); `samples_per_epoch` makes an epoch that many random pixels (large scenes;
    default: every pixel, see `Trainer`). `budget`: seconds of training at most; the epochs
    are fitted to it after the first one, the schedule with them (`TrainingBudget` in
    `explore.training.callbacks`). `progress`: progress bars while training (default
    None: in a notebook or on a terminal; `explore.training.progress`). After `fit`: `labels_`
    (H, W) in 0..K-1, `history_`, `model_`.
    """

    name: ClassVar[str] = "sscc"
    VIEW_POOLS: ClassVar[dict[str, str]] = {"_pool": "augmentation"}
    DEFAULT_CONFIG: ClassVar[str] = "fast"
    SUPPORTS: ClassVar[tuple[str, ...]] = ("scene",)
    CONFIGS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {
            "backbone": "reference",
            "n_components": 8,
            "patch_size": 11,
            "batch_size": 512,
            "epochs": 40,
            "lr": 2e-4,
            "weight_decay": 5e-3,
            "step_size": 20,
            "gamma": 0.1,
            "augmentation": "sscc_reference",
            "assign": "head",
            "neighbour_radius": 0,
            "budget": None,
        },
        "fast": {
            "backbone": "dense_light7",
            "n_components": 8,
            "patch_size": 7,
            "batch_size": 256,
            "epochs": 30,
            "lr": 1e-3,
            "weight_decay": 5e-4,
            "step_size": 20,
            "gamma": 0.1,
            "augmentation": "sscc_reference",
            "assign": "kmeans",
            "neighbour_radius": 2,
            "budget": None,
        },
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        config: str = "fast",
        loss: str = "paper",
        backbone: str | None = None,
        n_components: int | None = None,
        patch_size: int | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        step_size: int | None = None,
        gamma: float | None = None,
        augmentation: str | dict | None = None,
        instance_weight: float = 5e-5,
        instance_temperature: float = 0.5,
        cluster_temperature: float = 1.0,
        off_diagonal_weight: float = 0.005,
        assign: str | None = None,
        neighbour_radius: int | None = None,
        train_on: str = "all",
        samples_per_epoch: int | None = None,
        budget: float | None = None,
        scan_epochs: int | None = None,
        scan_entropy_weight: float | None = None,
        device: str = "auto",
        seed: int = 0,
        progress: bool | None = None,
    ) -> None:
        store_init_params(self, locals())

    # ------------------------------------------------------------------ trainer hooks
    def build_model(self, in_channels: int) -> nn.Module:
        if self.loss not in LOSSES:
            raise DataError(f"loss must be one of {LOSSES}; got {self.loss!r}")
        settings = self.settings()
        self._pool = resolve_pool(settings["augmentation"])
        backbone = self._build_backbone(settings["backbone"], in_channels)
        return TwinClusterNet(backbone, ClusterHead(backbone.out_features, self.n_clusters))

    def neighbour_view_pool(self) -> AugmentationPool:
        return self._pool

    def configure_optimizers(self, model: nn.Module):
        settings = self.settings()
        optimizer = torch.optim.Adam(
            model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"]
        )
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=settings["step_size"], gamma=settings["gamma"]
        )
        return optimizer, scheduler

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Two views of the batch (one pool call each), one forward pass over both. With
        `neighbour_radius`, the second view is of a spatial neighbour (`training_inputs`)."""
        anchors, neighbours = self.view_sources(batch)
        view_a = self._pool(anchors, generator)
        view_b = self._pool(neighbours, generator)
        outputs = model(torch.cat([view_a, view_b]))
        p_a, p_b = self.gather_views(*outputs.chunk(2))
        if self.loss == "paper":
            instance = instance_contrastive_loss(p_a, p_b, self.instance_temperature)
            redundancy = cross_correlation_loss_parts(p_a, p_b, self.off_diagonal_weight)
            parts = {
                "instance": self.instance_weight * instance,
                "on_diagonal": redundancy["on_diagonal"],
                "off_diagonal": redundancy["off_diagonal"],
            }
        else:
            instance = instance_contrastive_loss(p_a, p_b, self.instance_temperature)
            cluster = cluster_contrastive_loss_parts(p_a, p_b, self.cluster_temperature)
            parts = {
                "instance": instance,
                "cluster": cluster["contrast"],
                "balance": cluster["balance"],
            }
        parts["loss"] = sum(parts.values())  # type: ignore[assignment]
        return parts

    def architecture(self, in_channels: int) -> dict[str, Any]:
        return {**super().architecture(in_channels), "loss": self.loss}
