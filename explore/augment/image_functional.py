"""The functional forms of the image augmentations (`explore.augment.images`): each takes the
batch (N, C, H, W) in [0, 1] and one parameter per image (`adjust_brightness(images, factor)`,
`rotate(images, degrees)`, ...), draws nothing and returns values in [0, 1].

They are plain torch or kornia's functional ops (`kornia.enhance.adjust_hue`, `sharpness`,
`equalize`, `kornia.geometry.transform.warp_affine`). Definitions follow torchvision's (hence
PIL's) on float images: brightness multiplies by the factor; contrast blends with the image's
mean luma; saturation blends with the luma image; sharpness blends with a 3 x 3 smoothed copy;
solarize inverts the values above a threshold; posterize keeps the high bits of the 8-bit
value; equalize and autocontrast act per channel. Geometric operations act about the image
centre with bilinear sampling and black (0) fill. Operations that need colour leave 1-channel
images unchanged and refuse other channel counts (`has_colour`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import kornia.enhance
import kornia.geometry.transform
import torch

from explore.errors import DataError

# Luma weights of ITU-R 601 (torchvision's `rgb_to_grayscale`, PIL's "L" mode).
GRAY_WEIGHTS = (0.299, 0.587, 0.114)

Factor = float | torch.Tensor


# --------------------------------------------------------------------------------------------
# Helpers


def _per_image(value: Factor, images: torch.Tensor) -> torch.Tensor:
    """A number or an (N,) tensor as an (N, 1, 1, 1) tensor in the images' dtype and device."""
    value = torch.as_tensor(value, dtype=images.dtype, device=images.device)
    if value.ndim == 0:
        value = value.expand(images.shape[0])
    return value.reshape(-1, 1, 1, 1)


def _flat_per_image(value: Factor, images: torch.Tensor) -> torch.Tensor:
    """A number or an (N,) tensor as an (N,) tensor in the images' dtype and device."""
    return _per_image(value, images).reshape(-1)


def has_colour(images: torch.Tensor, owner: str) -> bool:
    """True for RGB images (C = 3), False for grayscale (C = 1); DataError for other C."""
    channels = images.shape[1]
    if channels not in (1, 3):
        raise DataError(
            f"{owner} needs grayscale (C = 1) or RGB (C = 3) images (N, C, H, W); "
            f"got {channels} channels in shape {tuple(images.shape)}"
        )
    return channels == 3


def _blend(images: torch.Tensor, other: torch.Tensor, factor: Factor) -> torch.Tensor:
    """factor * images + (1 - factor) * other, clamped to [0, 1] (torchvision's `_blend`)."""
    weight = _per_image(factor, images)
    return (weight * images + (1.0 - weight) * other).clamp(0.0, 1.0)


def _apply_by_choice(
    images: torch.Tensor,
    choice: torch.Tensor,
    transforms: list[Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None],
) -> torch.Tensor:
    """Run `transforms[k](sub_batch, members)` on the images whose `choice` (N,) is k.

    One call per transform on its sub-batch (`index_select` / `index_copy_`), a loop over
    transforms, never over images; a None transform (or an unused one) leaves its images as
    they are. `members` are the indices of the sub-batch in the batch, for per-image parameters.
    """
    result = None
    for index, transform in enumerate(transforms):
        if transform is None:
            continue
        members = torch.nonzero(choice == index).squeeze(1)
        if members.numel() == 0:
            continue
        if result is None:
            result = images.clone()
        result.index_copy_(0, members, transform(images.index_select(0, members), members))
    return images if result is None else result


# --------------------------------------------------------------------------------------------
# Functional forms: images (N, C, H, W) in [0, 1]; a parameter is a number (the same for every
# image) or an (N,) tensor (one per image). They draw nothing.


def to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """The luma of RGB images (N, 3, H, W) as (N, 1, H, W); grayscale images are returned as is."""
    if not has_colour(images, "to_grayscale"):
        return images
    weights = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype, device=images.device)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def adjust_brightness(images: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Multiply by `factor` (0 gives black, 1 the image) and clamp to [0, 1]."""
    return (images * _per_image(factor, images)).clamp(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Blend each image with its mean luma: 0 gives a flat grey image, 1 the image.

    The mean is the luma's for RGB and the mean over all channels otherwise.
    """
    base = to_grayscale(images) if images.shape[1] == 3 else images
    mean = base.mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(images, mean, factor)


def adjust_saturation(images: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Blend RGB images with their luma image: 0 gives grey, 1 the image. 1 channel: unchanged."""
    if not has_colour(images, "adjust_saturation"):
        return images
    return _blend(images, to_grayscale(images), factor)


def adjust_hue(images: torch.Tensor, shift: Factor) -> torch.Tensor:
    """Rotate the hue of RGB images by `shift` turns (in [-0.5, 0.5]). 1 channel: unchanged."""
    if not has_colour(images, "adjust_hue"):
        return images
    radians = _flat_per_image(shift, images) * (2.0 * math.pi)
    return kornia.enhance.adjust_hue(images, radians).clamp(0.0, 1.0)


def adjust_sharpness(images: torch.Tensor, factor: Factor) -> torch.Tensor:
    """Blend with a 3 x 3 smoothed copy (borders kept): 0 blurs, 1 is the image, 2 sharpens."""
    return kornia.enhance.sharpness(images, _flat_per_image(factor, images)).clamp(0.0, 1.0)


def solarize(images: torch.Tensor, threshold: Factor) -> torch.Tensor:
    """Invert (v -> 1 - v) the values strictly above `threshold`; threshold 1 is the identity."""
    return torch.where(images > _per_image(threshold, images), 1.0 - images, images)


def posterize(images: torch.Tensor, bits: int | torch.Tensor) -> torch.Tensor:
    """Keep the `bits` high bits (1..8) of each value's 8-bit level (v = round(255 x)).

    8 bits returns the images exactly (no 8-bit rounding), so the identity is exact.
    """
    bits = torch.as_tensor(bits, device=images.device)
    if bits.ndim == 0:
        bits = bits.expand(images.shape[0])
    step = torch.pow(2.0, 8 - bits.to(images.dtype)).reshape(-1, 1, 1, 1)
    levels = torch.round(images.clamp(0.0, 1.0) * 255.0)
    kept = torch.floor(levels / step) * step / 255.0
    return torch.where(bits.reshape(-1, 1, 1, 1) >= 8, images, kept)


def equalize(images: torch.Tensor) -> torch.Tensor:
    """Equalise each channel's 256-bin histogram (PIL's `ImageOps.equalize`; kornia's)."""
    return kornia.enhance.equalize(images.clamp(0.0, 1.0))


def auto_contrast(images: torch.Tensor) -> torch.Tensor:
    """Stretch each channel of each image to span [0, 1]; a flat channel is left unchanged."""
    low = images.amin(dim=(-2, -1), keepdim=True)
    high = images.amax(dim=(-2, -1), keepdim=True)
    span = high - low
    flat = span <= 0
    scale = torch.where(flat, torch.ones_like(span), 1.0 / torch.where(flat, 1.0, span))
    low = torch.where(flat, torch.zeros_like(low), low)
    return ((images - low) * scale).clamp(0.0, 1.0)


def _warp(images: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Map each image by `linear` (N, 2, 2) about its centre, then move it by `shift` (N, 2) px.

    Coordinates are (x to the right, y down) in pixels; bilinear sampling, black (0) fill.
    """
    height, width = images.shape[-2:]
    centre = torch.tensor(
        [(width - 1) / 2.0, (height - 1) / 2.0], dtype=images.dtype, device=images.device
    )
    offset = centre - linear @ centre + shift  # (N, 2)
    matrix = torch.cat([linear, offset.unsqueeze(-1)], dim=-1)  # (N, 2, 3), forward map
    warped = kornia.geometry.transform.warp_affine(
        images, matrix, (height, width), mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return warped.clamp(0.0, 1.0)


def rotate(images: torch.Tensor, degrees: Factor) -> torch.Tensor:
    """Rotate each image about its centre by `degrees`, counter-clockwise as displayed."""
    radians = torch.deg2rad(_flat_per_image(degrees, images))
    cos, sin = torch.cos(radians), torch.sin(radians)
    linear = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    return _warp(images, linear, torch.zeros_like(linear[:, 0]))


def shear(images: torch.Tensor, factor: Factor, axis: Literal["x", "y"]) -> torch.Tensor:
    """Shear each image about its centre: x += factor * y (axis "x") or y += factor * x ("y").

    torchvision and PIL shear about the top-left corner, which also shifts the image by up to
    factor x its size; shearing about the centre keeps the object in place.
    """
    amount = _flat_per_image(factor, images)
    ones, zeros = torch.ones_like(amount), torch.zeros_like(amount)
    if axis == "x":
        rows = [torch.stack([ones, amount], -1), torch.stack([zeros, ones], -1)]
    elif axis == "y":
        rows = [torch.stack([ones, zeros], -1), torch.stack([amount, ones], -1)]
    else:
        raise DataError(f"shear: axis must be 'x' or 'y'; got {axis!r}")
    linear = torch.stack(rows, -2)
    return _warp(images, linear, torch.zeros_like(linear[:, 0]))


def translate(images: torch.Tensor, fraction: Factor, axis: Literal["x", "y"]) -> torch.Tensor:
    """Move each image by `fraction` of its width (axis "x", positive: right) or height ("y",
    positive: down); sub-pixel moves are interpolated, uncovered pixels are black."""
    amount = _flat_per_image(fraction, images)
    zeros = torch.zeros_like(amount)
    height, width = images.shape[-2:]
    if axis == "x":
        shift = torch.stack([amount * width, zeros], -1)
    elif axis == "y":
        shift = torch.stack([zeros, amount * height], -1)
    else:
        raise DataError(f"translate: axis must be 'x' or 'y'; got {axis!r}")
    linear = torch.eye(2, dtype=images.dtype, device=images.device).expand(len(amount), 2, 2)
    return _warp(images, linear, shift)
