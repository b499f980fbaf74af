"""Networks shared by the methods: patch backbones and heads."""

from explore.models.backbones import (
    BACKBONES,
    LightPatchNet,
    ResidualPatchNet,
    build_backbone,
)
from explore.models.heads import ClusterHead, ProjectionHead

__all__ = [
    "BACKBONES",
    "ClusterHead",
    "LightPatchNet",
    "ProjectionHead",
    "ResidualPatchNet",
    "build_backbone",
]
