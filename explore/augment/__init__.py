"""Batched augmentations of hyperspectral patches (N, B, P, P), on the batch's device.

- `base`: the `Augmentation` base class, the name registry (`build`, `from_dict`), seeding.
- `spectral_spatial`: the operations (crop, flips, rotations, blur, masks, spectral ops).
- `pool`: composition (`Sequence`, `RandomChoice`) and the `AugmentationPool` holder.
- `presets`: named pools (`"sscc_reference"`, `"weak"`, `"strong"`).

A new operation goes in `spectral_spatial.py` (or a sibling module imported here): subclass
`Augmentation`, give it a `name`, store its constructor arguments as attributes, implement
`_apply`.
"""

from explore.augment.base import Augmentation, build, from_dict, registered_names
from explore.augment.pool import AugmentationPool, RandomChoice, Sequence
from explore.augment.presets import PRESETS, get_preset, list_presets
from explore.augment.spectral_spatial import (
    BandMask,
    GaussianBlur,
    Identity,
    PixelMask,
    RandomFlip,
    RandomResizedCrop,
    RandomRotate90,
    SpectralNoise,
    SpectralScale,
    SpectralShift,
    SpectralSmooth,
)

__all__ = [
    "PRESETS",
    "Augmentation",
    "AugmentationPool",
    "BandMask",
    "GaussianBlur",
    "Identity",
    "PixelMask",
    "RandomChoice",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomRotate90",
    "Sequence",
    "SpectralNoise",
    "SpectralScale",
    "SpectralShift",
    "SpectralSmooth",
    "build",
    "from_dict",
    "get_preset",
    "list_presets",
    "registered_names",
]
