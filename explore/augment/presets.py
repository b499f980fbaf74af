"""Named augmentation pools: the SSCC reference pool, weaker / stronger variants, and the
CC / SACC image pools.

Each preset is a factory returning a fresh `AugmentationPool`, so callers can edit theirs
without changing anyone else's. `"sscc_reference"` is the pool of docs/methods.md, section 1;
`"weak"` and `"strong"` are the weak / strong split on hyperspectral patches (CC and S3OCNet take
two weak views, SACC adds a strong one; docs/methods.md, section 2.3: the strong view draws more and
harsher operations). `"cc_weak"` and `"sacc_strong"` are CC's and SACC's views of images
(N, C, H, W) in [0, 1], C = 1 or 3; `"glyph_weak"` and `"glyph_strong"` the same views for
handwriting and characters (no mirror image, crops of at least half the image; the weak one
also rotates and shears, as a hand does).
Factories may take keyword options (all with defaults), passed through `get_preset`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from explore.augment import spectral_spatial as spectral
from explore.augment.base import Augmentation
from explore.augment.images import (
    ColorJitter,
    RandAugment,
    RandomGrayscale,
    Rotate,
    ShearX,
    ShearY,
)
from explore.augment.pool import AugmentationPool, RandomChoice, Sequence
from explore.errors import DataError


def sscc_reference() -> AugmentationPool:
    """SSCC's reference pool: random resized crop back to the patch size, horizontal flip
    (p = 0.5), then one of {Gaussian blur 3 x 3 with sigma in [0.1, 2] half the time, pixel mask
    (p = 0.5 per position), band mask (p = 0.5 per band)}, chosen uniformly per sample."""
    root = Sequence(
        [
            spectral.RandomResizedCrop(scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
            spectral.RandomFlip(horizontal=True, vertical=False, p=0.5),
            RandomChoice(
                [
                    spectral.GaussianBlur(kernel_size=3, sigma=(0.1, 2.0), p=0.5),
                    spectral.PixelMask(p=0.5),
                    spectral.BandMask(p=0.5),
                ]
            ),
        ]
    )
    return AugmentationPool(root, name="sscc_reference")


def weak() -> AugmentationPool:
    """A gentle pool: flips on both axes, a right-angle rotation, light noise and gain.

    Keeps every pixel of the patch and its spectral shape, for the weak views of CC, SACC and
    S3OCNet.
    """
    root = Sequence(
        [
            spectral.RandomFlip(horizontal=True, vertical=True, p=0.5),
            spectral.RandomRotate90(),
            spectral.SpectralScale(range=(0.95, 1.05)),
            spectral.SpectralNoise(std=0.02),
        ]
    )
    return AugmentationPool(root, name="weak")


def strong() -> AugmentationPool:
    """A harsh pool for SACC's strong view on hyperspectral patches.

    A crop that always zooms in (area 8 % to 80 % of the patch), flips on both axes, a
    right-angle rotation, then one harsh spatial or spectral corruption per sample (blur always,
    pixel mask 0.6, band mask 0.6, or band smoothing always), then a per-band gain, an offset
    and noise, each drawn per sample.
    """
    root = Sequence(
        [
            spectral.RandomResizedCrop(scale=(0.08, 0.8), ratio=(3 / 4, 4 / 3)),
            spectral.RandomFlip(horizontal=True, vertical=True, p=0.5),
            spectral.RandomRotate90(),
            RandomChoice(
                [
                    spectral.GaussianBlur(kernel_size=3, sigma=(0.5, 2.0), p=1.0),
                    spectral.PixelMask(p=0.6),
                    spectral.BandMask(p=0.6),
                    spectral.SpectralSmooth(kernel_size=5, p=1.0),
                ]
            ),
            spectral.SpectralScale(range=(0.8, 1.2), per_band=True, p=0.8),
            spectral.SpectralShift(range=(-0.2, 0.2), per_band=False, p=0.5),
            spectral.SpectralNoise(std=0.1, p=0.8),
        ]
    )
    return AugmentationPool(root, name="strong")


def _check_image_size(image_size: Any) -> int:
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise DataError(f"image_size must be a positive integer; got {image_size!r}")
    return image_size


def blur_kernel_size(image_size: int) -> int:
    """An odd Gaussian-blur kernel of about 10 % of the image side, at least 3 (SimCLR's habit:
    23 for 224 px). 28 and 32 px images get 3, 64 px get 7."""
    size = round(0.1 * _check_image_size(image_size))
    return max(3, size if size % 2 == 1 else size + 1)


def _image_crop_scale(image_size: int, crop_scale: Any) -> tuple[float, float]:
    """CC's crop area range (0.08, 1), or (0.2, 1) for images of at most 28 px; or `crop_scale`."""
    if crop_scale is None:
        return (0.2, 1.0) if image_size <= 28 else (0.08, 1.0)
    try:  # checked as the crop's own `scale` parameter
        return spectral.RandomResizedCrop(scale=crop_scale).scale
    except DataError as error:
        raise DataError(f"crop_scale: {error}") from None


def _cc_weak_ops(
    image_size: int, crop_scale: Any, horizontal_flip: bool = True
) -> list[Augmentation]:
    _check_image_size(image_size)
    ops: list[Augmentation] = [
        spectral.RandomResizedCrop(
            scale=_image_crop_scale(image_size, crop_scale), ratio=(3 / 4, 4 / 3)
        )
    ]
    if horizontal_flip:
        ops.append(spectral.RandomFlip(horizontal=True, vertical=False, p=0.5))
    ops.append(ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=0.8))
    ops.append(RandomGrayscale(p=0.2))
    return ops


def _sacc_strong_ops(
    image_size: int, crop_scale: Any, n_ops: int, magnitude: float, horizontal_flip: bool
) -> list[Augmentation]:
    ops = _cc_weak_ops(image_size, crop_scale, horizontal_flip)
    ops.append(
        spectral.GaussianBlur(kernel_size=blur_kernel_size(image_size), sigma=(0.1, 2.0), p=0.5)
    )
    ops.append(RandAugment(n_ops=n_ops, magnitude=magnitude, p=0.5))
    return ops


def cc_weak(
    image_size: int = 32, crop_scale: tuple[float, float] | None = None
) -> AugmentationPool:
    """CC's (SimCLR's) view of images (N, C, H, W) in [0, 1]: random resized crop back to the
    image size (ratio 3/4..4/3), horizontal flip (p = 0.5), colour jitter (0.4, 0.4, 0.4, 0.1)
    with p = 0.8, grayscale with p = 0.2.

    `crop_scale` is the crop's area range; by default CC's (0.08, 1), except (0.2, 1) for
    images of at most 28 px (`image_size`), where an 8 % crop is 8 x 8 px and loses the digit.
    Grayscale images (C = 1) work as they are: saturation, hue and grayscale are skipped inside
    the operations. Horizontal flips change some digits' identity: `glyph_weak` is this recipe
    for handwriting and characters.
    """
    return AugmentationPool(Sequence(_cc_weak_ops(image_size, crop_scale)), name="cc_weak")


def sacc_strong(
    image_size: int = 32,
    crop_scale: tuple[float, float] | None = None,
    n_ops: int = 5,
    magnitude: float = 30.0,
) -> AugmentationPool:
    """SACC's strong view of images (N, C, H, W) in [0, 1]: the `cc_weak` recipe, then a
    Gaussian blur (p = 0.5, sigma 0.1..2, kernel `blur_kernel_size(image_size)`), then
    RandAugment (`n_ops` ops from the pool of 14, each applied with p = 0.5 at a magnitude drawn
    uniformly in [0, `magnitude`] out of 30).

    The defaults follow SACC's code (`RandAugment(n=5, m=10)` of the FixMatch pool, whose scale
    tops at 10 and draws the magnitude in 1..9: half of the maximum on average, as here).
    Grayscale images work as they are (colour ops are skipped inside the operations); the
    horizontal-flip caveat of `cc_weak` applies (`glyph_strong` is the recipe without it).
    """
    ops = _sacc_strong_ops(image_size, crop_scale, n_ops, magnitude, horizontal_flip=True)
    return AugmentationPool(Sequence(ops), name="sacc_strong")


GLYPH_CROP_SCALE = (0.5, 1.0)
"""The glyph pools' crop area: at least half of the image, so a crop keeps what tells a glyph
from its neighbours (the lower halves of a 3 and a 5 are the same stroke)."""


GLYPH_ROTATION = 25.0
"""The glyph weak view's largest rotation, in degrees: handwriting leans by this much and stays
the same character (a 6 turned by 90 degrees does not)."""

GLYPH_SHEAR = 0.3
"""The glyph weak view's largest shear (x += shear * y, or along y): the slant of a hand."""

GLYPH_STRONG_OPS = 2
"""RandAugment operations per glyph strong view: RandAugment's own default, not SACC's five,
which after a crop of half an 8 x 8 digit left SACC sharing the 1s and the 8s between two
clusters on some seeds (docs/image-quality.md)."""


GLYPH_BACKGROUND = 0.25
"""The share of an image's pixels on a plain background (`plain_background_share`) from which a
one-channel set counts as glyphs, ink on paper, in the fast configs. Measured: mnist_test 0.82,
the 8 x 8 digits 0.48; grey photographs (CIFAR-10, RSSCN7) 0.02 and 0.006. Rotations give a
photograph black corners and its slant means nothing, so grey photographs keep CC's views."""


def plain_background_share(images: np.ndarray, *, max_images: int = 1000) -> float:
    """The median, over images, of the share of pixels within 5 % of the image's value range
    from its darkest (or, dark ink on light paper, its lightest) value; a flat image is all
    background. Label-free: it tells handwriting and characters from photographs by the page
    they are written on. `images` (N, C, H, W); at most `max_images` evenly spaced images are
    read."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise DataError(f"images must have shape (N, C, H, W) with N >= 1; got {images.shape}")
    picked = np.unique(np.linspace(0, images.shape[0] - 1, min(max_images, images.shape[0])))
    flat = images[picked.astype(np.int64)].reshape(len(picked), -1).astype(np.float32)
    low = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - low
    scaled = (flat - low) / np.where(span > 0, span, 1.0)
    share = np.maximum((scaled <= 0.05).mean(axis=1), (scaled >= 0.95).mean(axis=1))
    share[span[:, 0] <= 0] = 1.0
    return float(np.median(share))


def looks_like_glyphs(images: np.ndarray) -> bool:
    """Whether a set of images looks like handwriting or characters: one channel, and at least
    `GLYPH_BACKGROUND` of a typical image on a plain background."""
    images = np.asarray(images)
    return (
        images.ndim == 4
        and images.shape[1] == 1
        and (plain_background_share(images) >= GLYPH_BACKGROUND)
    )


def glyph_weak(
    image_size: int = 28,
    crop_scale: tuple[float, float] | None = GLYPH_CROP_SCALE,
    rotation: float = GLYPH_ROTATION,
    shear: float = GLYPH_SHEAR,
) -> AugmentationPool:
    """`cc_weak` for handwriting and characters: no horizontal flip (a mirrored glyph is another
    glyph or none), a crop of at least half the image (`GLYPH_CROP_SCALE`), then a rotation
    within +-`rotation` degrees (p = 0.8) and a shear within +-`shear` along x or y (p = 0.4
    each), the colour operations kept (on one channel: brightness and contrast).

    The crop alone moves and scales a glyph; the rotation and shear are how one writer's
    character differs from another's. Without them, two views of a digit differ in little but
    position, and CC's and S3OCNet's runs (which see weak views only) split and merged digits
    seed by seed; with them CC on digits went from 0.862 +- 0.061 to 0.965 +- 0.011 ACC
    (docs/image-quality.md). The fast configs of CC, SACC and S3OCNet take it for
    single-channel images that `looks_like_glyphs`."""
    for name, value in (("rotation", rotation), ("shear", shear)):
        if not (isinstance(value, int | float) and 0 <= value < float("inf")):
            raise DataError(f"{name} must be a number >= 0 (0: none); got {value!r}")
    ops = _cc_weak_ops(image_size, crop_scale, horizontal_flip=False)
    distortions: list[Augmentation] = []
    if rotation:
        distortions.append(Rotate(degrees=(-rotation, rotation), p=0.8))
    if shear:
        distortions += [ShearX(shear=(-shear, shear), p=0.4), ShearY(shear=(-shear, shear), p=0.4)]
    return AugmentationPool(Sequence(ops[:1] + distortions + ops[1:]), name="glyph_weak")


def glyph_strong(
    image_size: int = 28,
    crop_scale: tuple[float, float] | None = GLYPH_CROP_SCALE,
    n_ops: int = GLYPH_STRONG_OPS,
    magnitude: float = 30.0,
) -> AugmentationPool:
    """`sacc_strong` for handwriting and characters: `glyph_weak`'s crop and no flip, then the
    same blur and RandAugment (whose rotations stay within 30 degrees) with `GLYPH_STRONG_OPS`
    (2) operations instead of five."""
    ops = _sacc_strong_ops(image_size, crop_scale, n_ops, magnitude, horizontal_flip=False)
    return AugmentationPool(Sequence(ops), name="glyph_strong")


PRESETS: dict[str, Callable[..., AugmentationPool]] = {
    "sscc_reference": sscc_reference,
    "weak": weak,
    "strong": strong,
    "cc_weak": cc_weak,
    "sacc_strong": sacc_strong,
    "glyph_weak": glyph_weak,
    "glyph_strong": glyph_strong,
}


def list_presets() -> list[str]:
    """The preset names `get_preset` accepts, sorted."""
    return sorted(PRESETS)


def get_preset(name: str, **options: Any) -> AugmentationPool:
    """A fresh pool for the preset `name`, built with `options` (e.g. `image_size=28` for the
    image presets); unknown names or options raise DataError listing the known ones."""
    if name not in PRESETS:
        raise DataError(f"unknown augmentation preset {name!r}; known: {', '.join(list_presets())}")
    factory = PRESETS[name]
    accepted = list(inspect.signature(factory).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"augmentation preset {name!r} got unknown option(s) {unknown}; "
            f"it takes {accepted or 'none'}"
        )
    return factory(**options)


def resolve_pool(
    spec: str | Mapping[str, Any] | AugmentationPool, **options: Any
) -> AugmentationPool:
    """A pool from a preset name (built with those of `options` the preset takes, e.g.
    `image_size`), a pool's `to_dict()` form, or a pool itself (returned as is)."""
    if isinstance(spec, AugmentationPool):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise DataError(
                f"unknown augmentation preset {spec!r}; known: {', '.join(list_presets())}"
            )
        accepted = set(inspect.signature(PRESETS[spec]).parameters)
        return get_preset(spec, **{k: v for k, v in options.items() if k in accepted})
    if isinstance(spec, Mapping):
        return AugmentationPool.from_dict(spec)
    raise DataError(
        f"augmentation must be a preset name, a pool dict or a pool; got {type(spec).__name__}"
    )
