"""Backbones: inputs (N, C, H, W) -> features (N, out_features).

Hyperspectral patches: `ResidualPatchNet` is the SSCC reference network; `LightPatchNet` is a
smaller network of the same shape, the CPU default (docs/architecture.md gives the measurement).
Images: `SmallImageResNet` for 28 x 28 / 32 x 32 inputs and `LargeImageResNet` for larger ones
(64 px and up), both sized for CPU training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from explore.errors import DataError


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or strided 1x1) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
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


class ImageResNet(nn.Module):
    """A small ResNet for images in [0, 1]: input BatchNorm (no learned scale) standardises the
    channels, a stem, residual stages that halve the resolution, a global average pool.

    Input (N, in_channels, H, W); output (N, widths[-1])."""

    def __init__(
        self,
        in_channels: int,
        *,
        widths: Sequence[int],
        stem: nn.Module,
        stem_channels: int,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.BatchNorm2d(in_channels, affine=False), stem]
        channels = stem_channels
        for index, width in enumerate(widths):
            layers.append(BasicBlock(channels, width, stride=1 if index == 0 else 2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise DataError(
                f"backbone expects images (N, {self.in_channels}, H, W); got {tuple(x.shape)}"
            )
        return self.pool(self.features(x)).flatten(1)


class SmallImageResNet(ImageResNet):
    """For 28 x 28 / 32 x 32 images: 3x3 stem (32 channels) + 2x2 max pool, stages
    (32, 64, 128, 256) of one block each; 28 x 28 -> 14 -> 2 x 2 before pooling.

    The stem's pool was chosen by measurement on this 2-core CPU (forward + backward of 768
    MNIST images): 2.1 s without it (stages 32, 64, 128 at full resolution), 0.62 s with it and
    a fourth stage; SACC's epoch on `mnist_test` went from about 95 s to about 25 s."""

    def __init__(self, in_channels: int) -> None:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        super().__init__(in_channels, widths=(32, 64, 128, 256), stem=stem, stem_channels=32)


class LargeImageResNet(ImageResNet):
    """For larger images (64 px and up): 5x5 stride-2 stem + max pool, stages (32, 64, 128, 256)
    of one block each; 64 x 64 -> 2 x 2 before pooling."""

    def __init__(self, in_channels: int) -> None:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        super().__init__(in_channels, widths=(32, 64, 128, 256), stem=stem, stem_channels=32)


BACKBONES: dict[str, Callable[[int], nn.Module]] = {
    "reference": ResidualPatchNet,
    "light": LightPatchNet,
    "image_small": SmallImageResNet,
    "image_large": LargeImageResNet,
}


def default_backbone(input_shape: Sequence[int]) -> str:
    """The backbone for an input: `light` for hyperspectral patches (input_shape = (bands,)),
    `image_small` for images up to 48 px, `image_large` above."""
    if len(input_shape) == 1:
        return "light"
    return "image_small" if max(input_shape[1:]) <= 48 else "image_large"


def build_backbone(name: str, in_channels: int) -> nn.Module:
    """A backbone by name (see `BACKBONES`) for inputs with `in_channels` channels."""
    if name not in BACKBONES:
        raise DataError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](in_channels)
