"""Named augmentation pools: the SSCC reference pool and weaker / stronger variants.

Each preset is a factory returning a fresh `AugmentationPool`, so callers can edit theirs
without changing anyone else's. `"sscc_reference"` is the pool of METHODS.md section 1;
`"weak"` and `"strong"` are the weak/strong split SACC and S3OCNet use on hyperspectral patches
(METHODS.md section 2: the strong view draws more and harsher operations).
"""

from __future__ import annotations

from collections.abc import Callable

from explore.augment.pool import AugmentationPool, RandomChoice, Sequence
from explore.augment.spectral_spatial import (
    BandMask,
    GaussianBlur,
    PixelMask,
    RandomFlip,
    RandomResizedCrop,
    RandomRotate90,
    SpectralNoise,
    SpectralScale,
    SpectralShift,
    SpectralSmooth,
)
from explore.errors import DataError


def sscc_reference() -> AugmentationPool:
    """SSCC's reference pool: random resized crop back to the patch size, horizontal flip
    (p = 0.5), then one of {Gaussian blur 3 x 3 with sigma in [0.1, 2] half the time, pixel mask
    (p = 0.5 per position), band mask (p = 0.5 per band)}, chosen uniformly per sample."""
    root = Sequence(
        [
            RandomResizedCrop(scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
            RandomFlip(horizontal=True, vertical=False, p=0.5),
            RandomChoice(
                [
                    GaussianBlur(kernel_size=3, sigma=(0.1, 2.0), p=0.5),
                    PixelMask(p=0.5),
                    BandMask(p=0.5),
                ]
            ),
        ]
    )
    return AugmentationPool(root, name="sscc_reference")


def weak() -> AugmentationPool:
    """A gentle pool: flips on both axes, a right-angle rotation, light noise and gain.

    Keeps every pixel of the patch and its spectral shape, for SACC's weak views.
    """
    root = Sequence(
        [
            RandomFlip(horizontal=True, vertical=True, p=0.5),
            RandomRotate90(),
            SpectralScale(range=(0.95, 1.05)),
            SpectralNoise(std=0.02),
        ]
    )
    return AugmentationPool(root, name="weak")


def strong() -> AugmentationPool:
    """A harsh pool for SACC's / S3OCNet's strong view on hyperspectral patches.

    A crop that always zooms in (area 8 % to 80 % of the patch), flips on both axes, a
    right-angle rotation, then one harsh spatial or spectral corruption per sample (blur always,
    pixel mask 0.6, band mask 0.6, or band smoothing always), then a per-band gain, an offset
    and noise, each drawn per sample.
    """
    root = Sequence(
        [
            RandomResizedCrop(scale=(0.08, 0.8), ratio=(3 / 4, 4 / 3)),
            RandomFlip(horizontal=True, vertical=True, p=0.5),
            RandomRotate90(),
            RandomChoice(
                [
                    GaussianBlur(kernel_size=3, sigma=(0.5, 2.0), p=1.0),
                    PixelMask(p=0.6),
                    BandMask(p=0.6),
                    SpectralSmooth(kernel_size=5, p=1.0),
                ]
            ),
            SpectralScale(range=(0.8, 1.2), per_band=True, p=0.8),
            SpectralShift(range=(-0.2, 0.2), per_band=False, p=0.5),
            SpectralNoise(std=0.1, p=0.8),
        ]
    )
    return AugmentationPool(root, name="strong")


PRESETS: dict[str, Callable[[], AugmentationPool]] = {
    "sscc_reference": sscc_reference,
    "weak": weak,
    "strong": strong,
}


def list_presets() -> list[str]:
    """The preset names `get_preset` accepts, sorted."""
    return sorted(PRESETS)


def get_preset(name: str) -> AugmentationPool:
    """A fresh pool for the preset `name`; unknown names raise DataError listing the known ones."""
    if name not in PRESETS:
        raise DataError(f"unknown augmentation preset {name!r}; known: {', '.join(list_presets())}")
    return PRESETS[name]()
