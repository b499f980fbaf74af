"""Networks shared by the methods: backbones for patches and images, and heads."""

from explore.models.backbones import (
    BACKBONES,
    LargeImageResNet,
    LightPatchNet,
    ResidualPatchNet,
    SmallImageResNet,
    build_backbone,
    default_backbone,
)
from explore.models.heads import ClusterHead, ProjectionHead
from explore.models.soch import (
    HeadOutput,
    MultilayerSOCH,
    SelfOrganizingHead,
    multilayer_soch_loss_parts,
)

__all__ = [
    "BACKBONES",
    "ClusterHead",
    "HeadOutput",
    "LargeImageResNet",
    "LightPatchNet",
    "MultilayerSOCH",
    "ProjectionHead",
    "ResidualPatchNet",
    "SelfOrganizingHead",
    "SmallImageResNet",
    "build_backbone",
    "default_backbone",
    "multilayer_soch_loss_parts",
]
