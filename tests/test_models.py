"""Backbones and heads: shapes, softmax outputs, input checks."""

from __future__ import annotations

import pytest
import torch

from explore.errors import DataError
from explore.models import (
    ClusterHead,
    ProjectionHead,
    ResidualPatchNet,
    build_backbone,
    is_dense_capable,
)
from explore.models.backbones import ValidResidualBlock


def test_reference_backbone_matches_the_published_layout() -> None:
    net = ResidualPatchNet(8)
    assert net.out_features == 256
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (1, 1) and convs[0].out_channels == 32
    # 3 stages x 2 blocks x 2 convs of 3x3, all stride 1
    three_by_three = [c for c in convs if c.kernel_size == (3, 3)]
    assert len(three_by_three) == 12
    assert all(c.stride == (1, 1) for c in convs)
    assert [c.out_channels for c in three_by_three[::4]] == [64, 128, 256]


@pytest.mark.parametrize("name", ["reference", "light"])
def test_backbones_map_patches_to_feature_vectors(name: str) -> None:
    net = build_backbone(name, 5).eval()
    features = net(torch.randn(3, 5, 9, 9))
    assert features.shape == (3, net.out_features)
    with pytest.raises(DataError, match=r"\(N, 5, P, P\)"):
        net(torch.randn(3, 4, 9, 9))


def test_unknown_backbone_is_named() -> None:
    with pytest.raises(DataError, match="unknown backbone 'huge'"):
        build_backbone("huge", 3)


def test_cluster_head_gives_k_probabilities_per_item() -> None:
    head = ClusterHead(16, 7)
    probabilities = head(torch.randn(10, 16))
    assert probabilities.shape == (10, 7)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(10))
    features = torch.randn(5, 16)
    assert torch.equal(head(features).argmax(1), head.logits(features).argmax(1))
    with pytest.raises(DataError, match="n_clusters"):
        ClusterHead(16, 1)


def test_projection_head_shape() -> None:
    assert ProjectionHead(32, 128)(torch.randn(4, 32)).shape == (4, 128)


@pytest.mark.parametrize(
    ("name", "field"), [("dense_light9", 9), ("dense_light7", 7), ("dense_reference", 11)]
)
def test_dense_backbones_have_no_padding_and_take_patches_of_their_receptive_field(
    name: str, field: int
) -> None:
    net = build_backbone(name, 5).eval()
    assert is_dense_capable(net) and net.receptive_field == field
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.padding == (0, 0) and c.stride == (1, 1) for c in convs)
    assert net(torch.randn(3, 5, field, field)).shape == (3, net.out_features)
    assert net(torch.randn(2, 5, field + 4, field + 4)).shape == (2, net.out_features)
    with pytest.raises(DataError, match=f"receptive field \\({field} x {field}\\)"):
        net(torch.randn(2, 5, field - 2, field - 2))


def test_dense_reference_keeps_the_reference_widths_and_depth() -> None:
    net = build_backbone("dense_reference", 8)
    blocks = [m for m in net.modules() if isinstance(m, ValidResidualBlock)]
    assert [b.convs[0].out_channels for b in blocks] == [64, 64, 128, 128, 256, 256]
    assert net.out_features == 256
    assert not is_dense_capable(ResidualPatchNet(8))  # the paper's network: patch path only
