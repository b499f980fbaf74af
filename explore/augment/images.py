"""Batched augmentations of natural images (N, C, H, W) in [0, 1], C = 1 or 3, for CC and SACC.

This module owns the image operations of the SimCLR / CC weak view (`ColorJitter`,
`RandomGrayscale`; crop, flip and blur are the generic ops of `spectral_spatial`) and of SACC's
strong view (`RandAugment` and its fourteen operations, each also usable on its own:
`AutoContrast`, `Brightness`, `Color`, `Contrast`, `Equalize`, `Posterize`, `Rotate`,
`Sharpness`, `ShearX`, `ShearY`, `Solarize`, `TranslateX`, `TranslateY`; `Identity` lives in
`spectral_spatial`). Their functional forms (`adjust_brightness(images, factor)`,
`rotate(images, degrees)`, ...), which take one parameter per image and draw nothing, are in
`explore.augment.image_functional` (and importable from here).

Randomness: every per-image parameter is drawn here with torch on the batch's device (from the
optional `generator`, see `explore.augment.base`), then applied by the deterministic functional
forms: plain torch, or kornia's functional ops (`kornia.enhance.adjust_hue`, `sharpness`,
`equalize`, `kornia.geometry.transform.warp_affine`). kornia's augmentation *modules* are not
used: they draw from torch's global generator and some fail on 1-channel images
(docs/stack-notes.md, section 6).

Grayscale images: operations that need colour (saturation and hue in `ColorJitter`,
`RandomGrayscale`, `Color`, RandAugment's colour op) leave 1-channel images unchanged, so one
pipeline serves digits and colour images. They raise DataError on other channel counts (e.g.
hyperspectral patches) instead of guessing; the other operations act on each channel alike.

Definitions follow torchvision's (hence PIL's) on float images: brightness multiplies by the
factor; contrast blends with the image's mean luma; saturation blends with the luma image;
sharpness blends with a 3 x 3 smoothed copy; solarize inverts the values above a threshold;
posterize keeps the high bits of the 8-bit value; equalize and autocontrast act per channel.
Geometric operations act about the image centre with bilinear sampling and black (0) fill.
Inputs are expected in [0, 1]; every operation returns values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from explore.augment.base import Augmentation, uniform
from explore.augment.image_functional import (
    GRAY_WEIGHTS,
    _apply_by_choice,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    adjust_sharpness,
    auto_contrast,
    equalize,
    has_colour,
    posterize,
    rotate,
    shear,
    solarize,
    to_grayscale,
    translate,
)
from explore.augment.parameters import Count, Interval, IntInterval, Probability, Real

# --------------------------------------------------------------------------------------------
# Weak-view (SimCLR / CC) colour operations


def _jitter_range(strength: float) -> tuple[float, float]:
    """torchvision's factor range for a jitter strength s: [max(0, 1 - s), 1 + s]."""
    return max(0.0, 1.0 - strength), 1.0 + strength


class ColorJitter(Augmentation):
    """Jitter brightness, contrast, saturation and hue, in a random order per image (torchvision's).

    Factors are drawn per image uniformly in [max(0, 1 - s), 1 + s] for a strength s of
    brightness, contrast and saturation, and the hue shift in [-hue, hue] turns (hue <= 0.5).
    A strength of 0 skips that adjustment. On 1-channel images saturation and hue are skipped
    (brightness and contrast still apply), so the CC recipe runs on digits. `p` is the
    probability that an image is jittered at all (CC: 0.8, torchvision's `RandomApply`).
    The batch takes at most 16 sub-batch calls (4 stages x 4 adjustments), no loop over images.
    """

    name = "color_jitter"

    brightness = Real(0.4, bounds=(0.0, None), step=0.05, doc="brightness strength")
    contrast = Real(0.4, bounds=(0.0, None), step=0.05, doc="contrast strength")
    saturation = Real(0.4, bounds=(0.0, None), step=0.05, doc="saturation strength")
    hue = Real(0.1, bounds=(0.0, 0.5), step=0.05, doc="largest hue shift, in turns")
    p = Probability(0.8)

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        needs_colour = self.saturation > 0 or self.hue > 0
        colour = needs_colour and has_colour(x, "ColorJitter (saturation, hue)")
        count = x.shape[0]
        # Every factor is drawn whatever the channel count, so a seed means the same for both.
        brightness = uniform((count,), *_jitter_range(self.brightness), x, generator)
        contrast = uniform((count,), *_jitter_range(self.contrast), x, generator)
        saturation = uniform((count,), *_jitter_range(self.saturation), x, generator)
        hue = uniform((count,), -self.hue, self.hue, x, generator)
        order = torch.argsort(
            torch.rand((count, 4), generator=generator, device=x.device, dtype=torch.float32),
            dim=1,
        )  # (N, 4): each image's own order of the four adjustments
        transforms: list[Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None] = [
            (lambda images, members: adjust_brightness(images, brightness[members]))
            if self.brightness > 0
            else None,
            (lambda images, members: adjust_contrast(images, contrast[members]))
            if self.contrast > 0
            else None,
            (lambda images, members: adjust_saturation(images, saturation[members]))
            if self.saturation > 0 and colour
            else None,
            (lambda images, members: adjust_hue(images, hue[members]))
            if self.hue > 0 and colour
            else None,
        ]
        for stage in range(4):
            x = _apply_by_choice(x, order[:, stage], transforms)
        return x


class RandomGrayscale(Augmentation):
    """Replace RGB images by their luma repeated on 3 channels, per image with probability `p`.

    1-channel images are already grey: they pass through unchanged.
    """

    name = "random_grayscale"
    p = Probability(0.2)

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not has_colour(x, "RandomGrayscale"):
            return x
        return to_grayscale(x).repeat(1, 3, 1, 1)


# --------------------------------------------------------------------------------------------
# RandAugment's operations, each usable on its own. Default ranges are the ones RandAugment
# spans at full magnitude (see `RandAugment`). Each draws one value per image in its range.


class _FactorOperation(Augmentation):
    """Shared body: draw one factor per image uniformly in `factor`, apply `_transform` (the
    subclass's `adjust_*` function of (images, factors))."""

    factor = Interval(default=(0.1, 1.9), bounds=(0.0, None), step=0.1, doc="range of the factor")

    _transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self._transform(x, uniform((x.shape[0],), *self.factor, x, generator))


class Brightness(_FactorOperation):
    """Multiply each image by a factor drawn in `factor` (1 is the identity; clamped to [0, 1])."""

    name = "brightness"

    _transform = staticmethod(adjust_brightness)


class Contrast(_FactorOperation):
    """Blend each image with its mean luma by a factor drawn in `factor` (1 is the identity)."""

    name = "contrast"

    _transform = staticmethod(adjust_contrast)


class Color(_FactorOperation):
    """Change saturation by a factor drawn in `factor` (PIL's `ImageEnhance.Color`; 1 is the
    identity, 0 grey). 1-channel images pass through unchanged."""

    name = "color"

    _transform = staticmethod(adjust_saturation)


class Sharpness(_FactorOperation):
    """Sharpen (factor > 1) or soften (factor < 1) by a factor drawn in `factor` (1: identity)."""

    name = "sharpness"

    _transform = staticmethod(adjust_sharpness)


class Solarize(Augmentation):
    """Invert the values strictly above a threshold drawn per image in `threshold` (in [0, 1]).

    A single number is a fixed threshold; 1 is the identity, 0 inverts every non-zero value.
    """

    name = "solarize"

    threshold = Interval(
        default=(0.0, 1.0), bounds=(0.0, 1.0), step=0.05, doc="range of the threshold"
    )

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return solarize(x, uniform((x.shape[0],), *self.threshold, x, generator))


class Posterize(Augmentation):
    """Keep the high bits of each 8-bit level, the bit count drawn per image in `bits` (inclusive).

    8 bits is the identity; 1 bit leaves two levels per channel.
    """

    name = "posterize"

    bits = IntInterval(default=(4, 8), bounds=(1, 8), step=1, doc="range of the bits kept")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        low, high = self.bits
        bits = torch.randint(low, high + 1, (x.shape[0],), generator=generator, device=x.device)
        return posterize(x, bits)


class Equalize(Augmentation):
    """Equalise the histogram of each channel of each image (deterministic but for `p`)."""

    name = "equalize"

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return equalize(x)


class AutoContrast(Augmentation):
    """Stretch each channel of each image to [0, 1] (deterministic but for `p`)."""

    name = "auto_contrast"

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return auto_contrast(x)


class Rotate(Augmentation):
    """Rotate each image about its centre by an angle drawn in `degrees` (black fill)."""

    name = "rotate"

    degrees = Interval(default=(-30.0, 30.0), step=5.0, doc="range of the angle, in degrees")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return rotate(x, uniform((x.shape[0],), *self.degrees, x, generator))


class _Shear(Augmentation):
    """Shared body of `ShearX` / `ShearY`: a shear per image drawn in `shear`, along `axis`."""

    shear = Interval(default=(-0.3, 0.3), step=0.05, doc="range of the shear")

    axis: str

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return shear(x, uniform((x.shape[0],), *self.shear, x, generator), self.axis)


class ShearX(_Shear):
    """Shear each image horizontally about its centre (x += shear * y), shear drawn in `shear`."""

    name = "shear_x"
    axis = "x"


class ShearY(_Shear):
    """Shear each image vertically about its centre (y += shear * x), shear drawn in `shear`."""

    name = "shear_y"
    axis = "y"


class _Translate(Augmentation):
    """Shared body of `TranslateX` / `TranslateY`: a shift per image drawn in `fraction` (of the
    image's size), along `axis`."""

    fraction = Interval(
        default=(-0.3, 0.3), bounds=(-1.0, 1.0), step=0.05, doc="range of the shift, in sizes"
    )

    axis: str

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return translate(x, uniform((x.shape[0],), *self.fraction, x, generator), self.axis)


class TranslateX(_Translate):
    """Move each image right (positive) or left by a fraction of its width drawn in `fraction`."""

    name = "translate_x"
    axis = "x"


class TranslateY(_Translate):
    """Move each image down (positive) or up by a fraction of its height drawn in `fraction`."""

    name = "translate_y"
    axis = "y"


# --------------------------------------------------------------------------------------------
# RandAugment

MAX_MAGNITUDE = 30
"""The magnitude scale of `RandAugment` (torchvision's 31 bins, 0..30)."""

# Each op maps a level in [0, 1] (magnitude / 30) and a sign (+1 / -1, used by the symmetric
# ops) to its transform. Maxima: torchvision's, except translation (0.3 of the size, as the
# FixMatch pool SACC uses; torchvision: 0.45).
_RAND_AUGMENT_TRANSFORMS: dict[
    str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
] = {
    "auto_contrast": lambda images, level, sign: auto_contrast(images),
    "brightness": lambda images, level, sign: adjust_brightness(images, 1 + 0.9 * level * sign),
    "color": lambda images, level, sign: adjust_saturation(images, 1 + 0.9 * level * sign),
    "contrast": lambda images, level, sign: adjust_contrast(images, 1 + 0.9 * level * sign),
    "equalize": lambda images, level, sign: equalize(images),
    "identity": lambda images, level, sign: images,
    "posterize": lambda images, level, sign: posterize(images, 8 - torch.round(4 * level).long()),
    "rotate": lambda images, level, sign: rotate(images, 30.0 * level * sign),
    "sharpness": lambda images, level, sign: adjust_sharpness(images, 1 + 0.9 * level * sign),
    "shear_x": lambda images, level, sign: shear(images, 0.3 * level * sign, "x"),
    "shear_y": lambda images, level, sign: shear(images, 0.3 * level * sign, "y"),
    "solarize": lambda images, level, sign: solarize(images, 1.0 - level),
    "translate_x": lambda images, level, sign: translate(images, 0.3 * level * sign, "x"),
    "translate_y": lambda images, level, sign: translate(images, 0.3 * level * sign, "y"),
}

RAND_AUGMENT_OPS: tuple[str, ...] = tuple(_RAND_AUGMENT_TRANSFORMS)
"""The 14 operations RandAugment draws from, in the order of `RandAugmentPlan.ops` indices."""


def _with_draws(
    transform: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    levels: torch.Tensor,
    signs: torch.Tensor,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`transform` as a sub-batch function reading its images' levels and signs (N,)."""
    return lambda images, members: transform(images, levels[members], signs[members])


@dataclass(frozen=True)
class RandAugmentPlan:
    """The random draws of one `RandAugment` call on N images, for `n_ops` rounds.

    `ops` (n_ops, N) int64 indexes `RAND_AUGMENT_OPS`; `applied` (n_ops, N) bool says whether
    the op is applied (probability p); `levels` (n_ops, N) is magnitude / 30 in [0, m / 30];
    `signs` (n_ops, N) is +1 or -1 (direction of the symmetric ops).
    """

    ops: torch.Tensor
    applied: torch.Tensor
    levels: torch.Tensor
    signs: torch.Tensor


class RandAugment(Augmentation):
    """RandAugment: per image, `n_ops` operations drawn uniformly (with replacement) from the 14
    of `RAND_AUGMENT_OPS`, each applied with probability `p` at a magnitude drawn uniformly in
    [0, `magnitude`] on a scale of 0..30 (the SACC / FixMatch variant of RandAugment: random
    magnitude, per-op probability). Here `p` is that per-op probability, not the base class's.

    Magnitude M maps to the parameter through level = M / 30 (a random sign s = +/-1 for the
    symmetric ops): brightness, colour, contrast, sharpness factor 1 + 0.9 s level; rotate
    30 s level degrees; shear x/y 0.3 s level; translate x/y 0.3 s level of the size; posterize
    8 - round(4 level) bits; solarize threshold 1 - level; autocontrast, equalize and identity
    take none. Magnitude 0 is the identity for every op but autocontrast and equalize.
    torchvision (magnitude bins 0..30) uses the same maxima but translates up to 0.45 of the
    size and shears about the corner; FixMatch's pool (SACC's code) only darkens in brightness,
    colour, contrast and sharpness (factor 0.05..0.95) and posterizes less at high magnitude.

    On 1-channel images the colour op is the identity (kornia's RandAugment fails there when it
    draws it). Vectorised: for each round, each of the 14 ops runs once on the sub-batch of
    images that drew it and applies it. `draw_plan` and `apply_plan` expose the two halves.
    """

    name = "rand_augment"

    n_ops = Count(2, bounds=(0, None), doc="operations drawn per image")
    magnitude = Real(
        10.0, bounds=(0.0, MAX_MAGNITUDE), step=1.0, doc="largest magnitude, on a 0..30 scale"
    )
    p = Probability(0.5, doc="probability that each drawn operation is applied")

    def draw_plan(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> RandAugmentPlan:
        """Draw the ops, application flags, levels and signs for the batch x (N, C, H, W)."""
        shape = (self.n_ops, x.shape[0])
        ops = torch.randint(len(RAND_AUGMENT_OPS), shape, generator=generator, device=x.device)
        applied = torch.rand(shape, generator=generator, device=x.device) < self.p
        levels = uniform(shape, 0.0, self.magnitude / MAX_MAGNITUDE, x, generator)
        coin = torch.rand(shape, generator=generator, device=x.device) < 0.5
        signs = torch.where(coin, 1.0, -1.0).to(x.dtype)
        return RandAugmentPlan(ops=ops, applied=applied, levels=levels, signs=signs)

    @staticmethod
    def apply_plan(x: torch.Tensor, plan: RandAugmentPlan) -> torch.Tensor:
        """Apply a drawn plan to x (N, C, H, W), C = 1 or 3 (x itself when nothing applies)."""
        colour = has_colour(x, "RandAugment")
        skipped = {"identity"} if colour else {"identity", "color"}
        for round_index in range(plan.ops.shape[0]):
            levels, signs = plan.levels[round_index], plan.signs[round_index]
            transforms = [
                None if name in skipped else _with_draws(transform, levels, signs)
                for name, transform in _RAND_AUGMENT_TRANSFORMS.items()
            ]
            choice = torch.where(plan.applied[round_index], plan.ops[round_index], -1)
            x = _apply_by_choice(x, choice, transforms)
        return x

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        has_colour(x, "RandAugment")  # fail on every call, not only when colour is drawn
        return self.apply_plan(x, self.draw_plan(x, generator))


__all__ = [
    "GRAY_WEIGHTS",
    "MAX_MAGNITUDE",
    "RAND_AUGMENT_OPS",
    "AutoContrast",
    "Brightness",
    "Color",
    "ColorJitter",
    "Contrast",
    "Equalize",
    "Posterize",
    "RandAugment",
    "RandAugmentPlan",
    "RandomGrayscale",
    "Rotate",
    "Sharpness",
    "ShearX",
    "ShearY",
    "Solarize",
    "TranslateX",
    "TranslateY",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "adjust_sharpness",
    "auto_contrast",
    "equalize",
    "has_colour",
    "posterize",
    "rotate",
    "shear",
    "solarize",
    "to_grayscale",
    "translate",
]
