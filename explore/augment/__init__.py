"""Batched augmentations of hyperspectral patches (N, B, P, P), on the batch's device.

- `base`: the `Augmentation` base class (a `param.Parameterized`), the name registry (`build`,
  `from_dict`), seeding.
- `parameters`: the param types operations declare their parameters with (bounds, validation).
- `spectral_spatial`: the operations (crop, flips, rotations, blur, masks, spectral ops).
- `images`: image operations (N, C, H, W), C = 1 or 3 (colour jitter, RandAugment and its ops).
- `pool`: composition (`Sequence`, `RandomChoice`) and the `AugmentationPool` holder.
- `presets`: named pools (`"sscc_reference"`, `"weak"`, `"strong"`, `"cc_weak"`,
  `"sacc_strong"`, `"glyph_weak"`, `"glyph_strong"`), and `looks_like_glyphs`, the label-free
  test that gives one-channel sets of handwriting or characters the glyph pools.

A new operation goes in `spectral_spatial.py` (or a sibling module imported here): subclass
`Augmentation`, give it a `name`, declare its parameters with the types of `parameters`
(`p` is inherited; redeclare it to change its default), implement `_apply`.
"""

from explore.augment.base import (
    Augmentation,
    build,
    describe_operation,
    from_dict,
    registered_names,
)
from explore.augment.images import (
    AutoContrast,
    Brightness,
    Color,
    ColorJitter,
    Contrast,
    Equalize,
    Posterize,
    RandAugment,
    RandomGrayscale,
    Rotate,
    Sharpness,
    ShearX,
    ShearY,
    Solarize,
    TranslateX,
    TranslateY,
)
from explore.augment.pool import AugmentationPool, RandomChoice, Sequence
from explore.augment.presets import (
    PRESETS,
    get_preset,
    list_presets,
    looks_like_glyphs,
    plain_background_share,
    resolve_pool,
)
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
    "describe_operation",
    "Augmentation",
    "AugmentationPool",
    "AutoContrast",
    "BandMask",
    "Brightness",
    "Color",
    "ColorJitter",
    "Contrast",
    "Equalize",
    "GaussianBlur",
    "Identity",
    "PixelMask",
    "Posterize",
    "RandAugment",
    "RandomChoice",
    "RandomFlip",
    "RandomGrayscale",
    "RandomResizedCrop",
    "RandomRotate90",
    "Rotate",
    "Sequence",
    "Sharpness",
    "ShearX",
    "ShearY",
    "Solarize",
    "SpectralNoise",
    "SpectralScale",
    "SpectralShift",
    "SpectralSmooth",
    "TranslateX",
    "TranslateY",
    "build",
    "from_dict",
    "get_preset",
    "resolve_pool",
    "list_presets",
    "looks_like_glyphs",
    "plain_background_share",
    "registered_names",
]
