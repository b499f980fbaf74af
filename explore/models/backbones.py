"""Backbones for hyperspectral patches (N, B, P, P) -> features (N, out_features).

`ResidualPatchNet` is the SSCC reference network; `LightPatchNet` is a smaller network of the
same shape, the CPU default (see docs/architecture.md for the measurement behind the choice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from explore.errors import DataError


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1) shortcut; stride 1."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResidualPatchNet(nn.Module):
    """1x1 conv stem, residual stages (stride 1, no pooling), global average pool.

    The SSCC reference: stem 32 channels, stages (64, 128, 256) of 2 basic blocks each.
    Input (N, in_channels, P, P); output (N, widths[-1])."""

    def __init__(
        self,
        in_channels: int,
        *,
        stem_channels: int = 32,
        widths: Sequence[int] = (64, 128, 256),
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise DataError(f"in_channels must be >= 1; got {in_channels}")
        self.in_channels = in_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, stem_channels, 1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
        ]
        channels = stem_channels
        for width in widths:
            for _ in range(blocks_per_stage):
                layers.append(BasicBlock(channels, width))
                channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise DataError(
                f"backbone expects patches (N, {self.in_channels}, P, P); got {tuple(x.shape)}"
            )
        return self.pool(self.features(x)).flatten(1)


class LightPatchNet(ResidualPatchNet):
    """The CPU default: the reference layout with stages (32, 64) of one block each."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, stem_channels=32, widths=(32, 64), blocks_per_stage=1)


BACKBONES: dict[str, Callable[[int], nn.Module]] = {
    "reference": ResidualPatchNet,
    "light": LightPatchNet,
}


def build_backbone(name: str, in_channels: int) -> nn.Module:
    """A backbone by name (`reference` or `light`) for patches with `in_channels` bands."""
    if name not in BACKBONES:
        raise DataError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](in_channels)
