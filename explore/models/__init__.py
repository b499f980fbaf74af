"""Networks shared by the methods: backbones for patches (dense-capable or not) and images,
heads, and the backbone + heads base class with its dense (full-image) inference."""

from explore.models.backbones import (
    BACKBONES,
    DenseLightNet7,
    DenseLightNet9,
    DenseReferenceNet,
    LargeImageResNet,
    LightPatchNet,
    ResidualPatchNet,
    SmallImageResNet,
    ValidPatchNet,
    build_backbone,
    default_backbone,
    is_dense_capable,
)
from explore.models.dense import BackboneWithHeads
from explore.models.heads import ClusterHead, ProjectionHead
from explore.models.soch import (
    HeadOutput,
    MultilayerSOCH,
    SelfOrganizingHead,
    multilayer_soch_loss_parts,
)

__all__ = [
    "BACKBONES",
    "BackboneWithHeads",
    "ClusterHead",
    "DenseLightNet7",
    "DenseLightNet9",
    "DenseReferenceNet",
    "HeadOutput",
    "LargeImageResNet",
    "LightPatchNet",
    "MultilayerSOCH",
    "ProjectionHead",
    "ResidualPatchNet",
    "SelfOrganizingHead",
    "SmallImageResNet",
    "ValidPatchNet",
    "build_backbone",
    "default_backbone",
    "is_dense_capable",
    "multilayer_soch_loss_parts",
]
