"""Backbones: inputs (N, C, H, W) -> features (N, out_features).

Hyperspectral patches: `ResidualPatchNet` is the SSCC reference network; `LightPatchNet` is a
smaller network of the same shape. Both pad inside the patch, so they only run patch by patch.
`ValidPatchNet` is dense-capable: its convolutions have no padding and it averages what remains
of the patch, so one forward pass over a whole (padded) scene gives every pixel's patch output
at once (`dense_forward`; `dense_capable` says which backbones can). `dense_light7` (the
SSCC CPU default), `dense_light9` and `dense_reference` are its named layouts
(docs/architecture.md gives the measurements).
Images: `SmallImageResNet` for 28 x 28 / 32 x 32 inputs and `LargeImageResNet` for larger ones
(64 px and up), both sized for CPU training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
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


def _pointwise_stem(in_channels: int, stem_channels: int) -> list[nn.Module]:
    """The patch backbones' stem: 1x1 convolution (no bias), BatchNorm, ReLU; `in_channels`
    must be >= 1."""
    if in_channels < 1:
        raise DataError(f"in_channels must be >= 1; got {in_channels}")
    return [
        nn.Conv2d(in_channels, stem_channels, 1, bias=False),
        nn.BatchNorm2d(stem_channels),
        nn.ReLU(inplace=True),
    ]


class _PooledResNet(nn.Module):
    """A stack of layers, then a global average pool: what `ResidualPatchNet` and `ImageResNet`
    share. `expected_input` names the input in the shape error."""

    dense_capable: ClassVar[bool] = False
    expected_input: ClassVar[str] = "images (N, {}, H, W)"

    def _stack(self, layers: list[nn.Module], channels: int) -> None:
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise DataError(
                f"backbone expects {self.expected_input.format(self.in_channels)}; "
                f"got {tuple(x.shape)}"
            )
        return self.pool(self.features(x)).flatten(1)


class ResidualPatchNet(_PooledResNet):
    """1x1 conv stem, residual stages (stride 1, no pooling), global average pool. Patch path
    only: its convolutions pad inside the patch.

    The SSCC reference: stem 32 channels, stages (64, 128, 256) of 2 basic blocks each.
    Input (N, in_channels, P, P); output (N, widths[-1])."""

    expected_input: ClassVar[str] = "patches (N, {}, P, P)"

    def __init__(
        self,
        in_channels: int,
        *,
        stem_channels: int = 32,
        widths: Sequence[int] = (64, 128, 256),
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        layers = _pointwise_stem(in_channels, stem_channels)
        self.in_channels = in_channels
        channels = stem_channels
        for width in widths:
            for _ in range(blocks_per_stage):
                layers.append(BasicBlock(channels, width))
                channels = width
        self._stack(layers, channels)


class LightPatchNet(ResidualPatchNet):
    """The CPU default: the reference layout with stages (32, 64) of one block each."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, stem_channels=32, widths=(32, 64), blocks_per_stage=1)


class ValidResidualBlock(nn.Module):
    """Convolutions without padding (a k x k one shrinks the map by k - 1 on each axis), each
    followed by BatchNorm (ReLU between them), plus a shortcut centre-cropped to the output
    (a 1x1 convolution + BatchNorm when the channels change), then ReLU.

    Nothing is padded, so every output value depends only on the input window under it: run on a
    whole scene, the block gives at each position what it gives on that position's patch."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int] = (3, 3)
    ) -> None:
        super().__init__()
        if not kernel_sizes or any(int(k) < 1 or int(k) % 2 == 0 for k in kernel_sizes):
            raise DataError(f"kernel sizes must be odd integers >= 1; got {tuple(kernel_sizes)}")
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        channels = in_channels
        for kernel in self.kernel_sizes:
            self.convs.append(nn.Conv2d(channels, out_channels, kernel, bias=False))
            self.norms.append(nn.BatchNorm2d(out_channels))
            channels = out_channels
        self.crop = sum((k - 1) // 2 for k in self.kernel_sizes)
        """Pixels each side of the map lose to this block."""
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        last = len(self.convs) - 1
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            out = norm(conv(out))
            if index < last:
                out = torch.relu(out)
        crop = self.crop
        kept = x[..., crop : x.shape[-2] - crop, crop : x.shape[-1] - crop] if crop else x
        return torch.relu(out + self.shortcut(kept))


class ValidPatchNet(nn.Module):
    """A dense-capable patch network: 1x1 conv stem, residual blocks of unpadded convolutions
    (`ValidResidualBlock`), and the average of what remains of the patch.

    Patch path: (N, in_channels, P, P) -> (N, out_features), P >= `receptive_field`; the
    blocks leave (P - receptive_field + 1)^2 positions, averaged. Dense path
    (`dense_forward`): a (N, in_channels, H + P - 1, W + P - 1) cube (a scene padded by
    r = P // 2 at its border, as the patch sampler pads) -> (N, out_features, H, W), the same
    modules with the average done as a box filter (`avg_pool2d`, stride 1): position (i, j)
    equals the patch path's output on the patch centred there. BatchNorm must be in eval mode
    for the two to agree (in training mode its statistics depend on the batch).

    `blocks`: (out_channels, kernel sizes) per residual block."""

    dense_capable: ClassVar[bool] = True

    def __init__(
        self,
        in_channels: int,
        *,
        stem_channels: int = 32,
        blocks: Sequence[tuple[int, Sequence[int]]] = ((32, (3, 3)), (64, (3, 3))),
    ) -> None:
        super().__init__()
        layers = _pointwise_stem(in_channels, stem_channels)
        self.in_channels = in_channels
        channels = stem_channels
        crop = 0
        for width, kernel_sizes in blocks:
            block = ValidResidualBlock(channels, int(width), kernel_sizes)
            layers.append(block)
            crop += block.crop
            channels = int(width)
        self.features = nn.Sequential(*layers)
        self.out_features = channels
        self.receptive_field = 2 * crop + 1
        """Side of the window one output position sees: the smallest patch the net takes."""

    def check_patch_size(self, patch_size: int) -> None:
        """DataError unless patches of `patch_size` cover the receptive field."""
        if patch_size < self.receptive_field:
            raise DataError(
                f"patches of {patch_size} x {patch_size} are smaller than this backbone's "
                f"receptive field ({self.receptive_field} x {self.receptive_field}): use "
                f"patch_size >= {self.receptive_field} or another backbone"
            )

    def _check_input(self, x: torch.Tensor, what: str) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise DataError(
                f"backbone expects {what} (N, {self.in_channels}, H, W); got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "patches")
        self.check_patch_size(min(int(x.shape[-2]), int(x.shape[-1])))
        return self.features(x).mean(dim=(2, 3))

    def dense_forward(self, x: torch.Tensor, patch_size: int) -> torch.Tensor:
        """(N, C, H + P - 1, W + P - 1) padded cube -> (N, out_features, H, W): every
        position's output for patches of `patch_size` = P, in one pass."""
        self._check_input(x, "a padded cube")
        self.check_patch_size(patch_size)
        if min(int(x.shape[-2]), int(x.shape[-1])) < patch_size:
            raise DataError(
                f"a padded cube of {tuple(x.shape[-2:])} pixels holds no whole "
                f"{patch_size} x {patch_size} patch"
            )
        features = self.features(x)
        window = patch_size - self.receptive_field + 1
        if window > 1:
            features = F.avg_pool2d(features, window, stride=1)
        return features


class DenseLightNet9(ValidPatchNet):
    """`dense_light9`: stem 32, blocks (32: 3x3, 3x3) and (64: 3x3, 3x3); receptive field 9
    (the `light` layout without padding), about 150 kFLOP per pixel densely. On Salinas-A it
    clustered worse than `dense_light7` (docs/architecture.md)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, stem_channels=32, blocks=((32, (3, 3)), (64, (3, 3))))


class DenseLightNet7(ValidPatchNet):
    """`dense_light7`, the SSCC CPU default: stem 32, blocks (32: 3x3) and (64: 3x3, 3x3);
    receptive field 7 (7 x 7 patches), about 135 kFLOP per pixel densely."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, stem_channels=32, blocks=((32, (3,)), (64, (3, 3))))


class DenseReferenceNet(ValidPatchNet):
    """`dense_reference`: the reference network's widths and depth (stem 32, stages 64, 128,
    256 of two blocks) made dense-capable for its 11 x 11 patches: each block's second
    convolution is 1x1 and the last block's both, so the receptive field is 11 (twelve padded
    3x3 convolutions, as in `ResidualPatchNet`, would need 25). About 1.7 MFLOP per pixel
    densely: meant for a GPU. Not the paper's network (`reference` stays that one)."""

    def __init__(self, in_channels: int) -> None:
        blocks = (
            (64, (3, 1)),
            (64, (3, 1)),
            (128, (3, 1)),
            (128, (3, 1)),
            (256, (3, 1)),
            (256, (1, 1)),
        )
        super().__init__(in_channels, stem_channels=32, blocks=blocks)


class ImageResNet(_PooledResNet):
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
        self._stack(layers, channels)


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
    "dense_light9": DenseLightNet9,
    "dense_light7": DenseLightNet7,
    "dense_reference": DenseReferenceNet,
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


def is_dense_capable(module: nn.Module) -> bool:
    """Whether `module` (a backbone, or a model holding one as `backbone`) gives every pixel's
    output by one full-image pass (`dense_forward`) equal to the patch-by-patch one."""
    backbone = getattr(module, "backbone", module)
    return bool(getattr(backbone, "dense_capable", False)) and callable(
        getattr(backbone, "dense_forward", None)
    )
