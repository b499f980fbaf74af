"""CC: contrastive clustering (instance-level and cluster-level contrast over two weak views).

One backbone with two heads: an instance projector (d -> d -> 128, contrasted with NT-Xent at
tau_I) and a cluster projector (d -> d -> K, softmax; its columns contrasted at tau_C, plus the
balance term). The parent of SACC (explore/methods/sacc.py); see docs/methods.md, sections 2
and 6 (shared building blocks). Runs on image sets and, with the spectral-spatial pools, on
hyperspectral scenes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from explore.augment import AugmentationPool, resolve_pool
from explore.losses import cluster_contrastive_loss_parts, instance_contrastive_loss
from explore.methods.base import DeepClusteringMethod
from explore.models import ClusterHead, ProjectionHead, default_backbone
from explore.models.dense import BackboneWithHeads
from explore.params import store_init_params
from explore.training.schedules import make_schedule

# Seconds of training an image-set run of the fast config is fitted to when no `epochs` are
# given (SACC's 30 epochs on mnist_test take about half an hour on a 2-core CPU; a run of 12
# minutes and its set-up fit a 15-minute class slot). Small sets train all their epochs.
DEFAULT_IMAGE_BUDGET = 720.0

# Augmentation presets used when none is given, by input kind; single-channel images of
# handwriting or characters (`looks_like_glyphs`) take the glyph pools in configs with
# `glyph_views` (measured: docs/image-quality.md).
DEFAULT_POOLS = {
    "images": {"weak": "cc_weak", "strong": "sacc_strong"},
    "glyphs": {"weak": "glyph_weak", "strong": "glyph_strong"},
    "scene": {"weak": "weak", "strong": "strong"},
}


class ContrastiveClusteringNet(BackboneWithHeads):
    """Backbone + instance projector + cluster projector, shared by every view.

    `forward` gives soft assignments (N, K), `embed` the backbone features (N, d), `project`
    both heads' outputs (instance vectors (N, instance_dim), soft assignments (N, K));
    `dense_forward` every pixel of a tile at once when the backbone is dense-capable."""

    def __init__(self, backbone: nn.Module, n_clusters: int, instance_dim: int = 128) -> None:
        super().__init__()
        features = backbone.out_features
        self.backbone = backbone
        self.instance_projector = ProjectionHead(features, instance_dim, hidden=features)
        self.cluster_projector = ClusterHead(features, n_clusters, hidden=features)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.cluster_projector(features)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        return self.instance_projector(features), self.cluster_projector(features)


class CC(DeepClusteringMethod):
    """Contrastive clustering: L = L_ins(w1, w2) + L_clu(w1, w2) over two weak views.

    Configs: "paper" follows the reference code (Adam lr 3e-4, no weight decay, batch 256,
    tau_I = 0.5, tau_C = 1.0; its 1000 epochs are far beyond a CPU, so pass `epochs`); "fast"
    is the CPU default. The backbone defaults to `image_small` (images up to 48 px),
    `image_large` (larger images) or `light` (hyperspectral patches; `dense_light7` in the fast
    config); the weak pool to `cc_weak` for images and `weak` for scenes. The fast config
    views single-channel images on a plain background as handwriting or characters
    (`glyph_weak`: no mirror image, crops of at least half the image, slants by rotation and
    shear; `glyph_views`, `explore.augment.looks_like_glyphs`); grey photographs keep
    `cc_weak`, whose mirror images and small crops are fair views of a photograph.

    On scenes the fast config also pairs each pixel's view with a view of a random pixel of its
    5 x 5 window (`neighbour_radius=2`) and reads clusters by k-means on the learnt features
    (`assign="kmeans"`), as SSCC's does (`INPUT_DEFAULTS`; image sets keep both views of the
    image and the head). Measured (30 epochs, seeds 0-2; README and docs/hsi-quality.md): ACC
    on Salinas-A / Samson / Indian Pines 0.819 / 0.835 / 0.572 (CC; 0.776 on Salinas-A when
    every run trains on one thread), 0.778 / 0.879 / 0.539 (SACC), 0.767 / 0.864 / 0.539
    (S3OCNet); on Salinas-A they were 0.620, 0.712 and 0.768 with the light backbone, views of
    the pixel itself and the head. k-means: 0.770 / 0.847 / 0.364.

    `lr_schedule`: "constant" (both configs, as the reference code) or "cosine" (half a
    cosine from `lr` down to 1 % of it over the run, its length fitted with the run to a
    `budget`; `explore.training.schedules`).

    `samples_per_epoch`: items per epoch (default every item, see `Trainer`). `budget`: seconds
    of training at most (see `SSCC`); on image sets the fast config fits a run without `epochs`
    to `DEFAULT_IMAGE_BUDGET` (12 minutes), so mnist_test-sized sets finish in a class slot.
    `progress`: progress bars while training (default None: in a notebook or on a terminal;
    `explore.training.progress`). After `fit`: `labels_`, `history_`, `model_`.
    """

    name: ClassVar[str] = "cc"
    DEFAULT_CONFIG: ClassVar[str] = "fast"
    CONFIGS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {
            "backbone": None,
            "batch_size": 256,
            "epochs": 1000,
            "lr": 3e-4,
            "weight_decay": 0.0,
            "weak_augmentation": None,
            "strong_augmentation": None,
            "n_components": 8,
            "patch_size": 11,
            "assign": "head",
            "neighbour_radius": 0,
            "budget": None,
            "glyph_views": False,
            "lr_schedule": "constant",
        },
        "fast": {
            "backbone": None,
            "batch_size": 256,
            "epochs": 30,
            "lr": 1e-3,
            "weight_decay": 1e-4,
            "weak_augmentation": None,
            "strong_augmentation": None,
            "n_components": 8,
            "patch_size": 7,
            "assign": "head",
            "neighbour_radius": 0,
            "budget": None,
            "glyph_views": True,
            "lr_schedule": "constant",
        },
    }

    VIEW_POOLS: ClassVar[dict[str, str]] = {"_weak": "weak_augmentation"}

    INPUT_DEFAULTS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        # On scenes the fast config learns from spatial views and clusters the learnt features
        # (measured: docs/hsi-quality.md); the dense backbone makes each epoch's map cheap.
        "fast": {
            "scene": {"backbone": "dense_light7", "neighbour_radius": 2, "assign": "kmeans"},
            "images": {"budget": DEFAULT_IMAGE_BUDGET},
        },
    }

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        config: str = "fast",
        backbone: str | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        lr: float | None = None,
        lr_schedule: str | None = None,
        weight_decay: float | None = None,
        weak_augmentation: str | dict | None = None,
        strong_augmentation: str | dict | None = None,
        n_components: int | None = None,
        patch_size: int | None = None,
        instance_dim: int = 128,
        instance_temperature: float = 0.5,
        cluster_temperature: float = 1.0,
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

    # ------------------------------------------------------------------ resolved choices
    def _backbone_name(self) -> str:
        return self.settings()["backbone"] or default_backbone(self.input_shape_)

    def _pool(self, which: str) -> AugmentationPool:
        """The weak or strong pool: as configured, else the default for the input kind, where
        single-channel images on a plain background count as handwriting or characters
        ("glyphs", `looks_like_glyphs`) in configs with `glyph_views`; image presets are sized
        for the images (e.g. the crop area CC uses on 28 px digits)."""
        settings = self.settings()
        kind = self._input_kind()
        if kind == "images" and settings["glyph_views"] and self._glyph_input():
            kind = "glyphs"
        spec = settings[f"{which}_augmentation"] or DEFAULT_POOLS[kind][which]
        options = {"image_size": int(self.input_shape_[-1])} if len(self.input_shape_) == 3 else {}
        return resolve_pool(spec, **options)

    def _glyph_input(self) -> bool:
        """Whether the training images look like glyphs (`fit` measures it); a model loaded from
        a checkpoint, which never saw its images, goes by the channel count alone."""
        measured = getattr(self, "glyph_like_", None)
        return int(self.input_shape_[0]) == 1 if measured is None else bool(measured)

    # ------------------------------------------------------------------ trainer hooks
    def build_model(self, in_channels: int) -> nn.Module:
        self._weak = self._pool("weak")
        backbone = self._build_backbone(self._backbone_name(), in_channels)
        return ContrastiveClusteringNet(backbone, self.n_clusters, self.instance_dim)

    def neighbour_view_pool(self) -> AugmentationPool:
        return self._weak

    def configure_optimizers(self, model: nn.Module):
        settings = self.settings()
        optimizer = torch.optim.Adam(
            model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"]
        )
        return optimizer, make_schedule(settings["lr_schedule"], optimizer, settings["epochs"])

    def architecture(self, in_channels: int) -> dict[str, Any]:
        return {
            **super().architecture(in_channels),
            "backbone": self._backbone_name(),
            "instance_dim": self.instance_dim,
        }

    def _pair_losses(
        self,
        instances: dict[str, torch.Tensor],
        assignments: dict[str, torch.Tensor],
        instance_pairs: tuple[tuple[str, str], ...],
        cluster_pairs: tuple[tuple[str, str], ...],
        cluster_weight: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """Instance and cluster losses summed over the given pairs of views."""
        instance = sum(
            instance_contrastive_loss(instances[a], instances[b], self.instance_temperature)
            for a, b in instance_pairs
        )
        contrast = torch.zeros((), device=next(iter(assignments.values())).device)
        balance = torch.zeros_like(contrast)
        for a, b in cluster_pairs:
            parts = cluster_contrastive_loss_parts(
                assignments[a], assignments[b], self.cluster_temperature
            )
            contrast = contrast + parts["contrast"]
            balance = balance + parts["balance"]
        losses = {
            "instance": instance,
            "cluster": cluster_weight * contrast,
            "balance": cluster_weight * balance,
        }
        losses["loss"] = losses["instance"] + losses["cluster"] + losses["balance"]
        return losses

    def _project_views(
        self, model: nn.Module, views: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One forward pass over all views stacked (BatchNorm sees them together); each view's
        outputs gathered across processes (`gather_views`) before any loss."""
        names = list(views)
        instances, assignments = model.project(torch.cat([views[n] for n in names]))
        return (
            dict(zip(names, self.gather_views(*instances.chunk(len(names))), strict=True)),
            dict(zip(names, self.gather_views(*assignments.chunk(len(names))), strict=True)),
        )

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        anchors, partners = self.view_sources(batch)
        views = {"w1": self._weak(anchors, generator), "w2": self._weak(partners, generator)}
        instances, assignments = self._project_views(model, views)
        return self._pair_losses(instances, assignments, (("w1", "w2"),), (("w1", "w2"),))
