"""Spectral-spatial augmentation operations on batches of hyperspectral patches (N, B, P, P).

Spatial operations (crop, flips, rotations, blur, pixel mask) act on the last two axes and treat
every band alike; spectral operations (band mask, noise, gain, offset, smoothing) act along the
band axis. Every operation is vectorised over the batch: per-sample randomness is drawn as
tensors and applied with batched torch calls, never with a Python loop over samples.
See `explore.augment.base` for the meaning of `p` and for seeding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from explore.augment.base import Augmentation, bernoulli_mask, per_sample, uniform
from explore.augment.parameters import Flag, Interval, OddSize, Probability, Real
from explore.errors import DataError


class Identity(Augmentation):
    """Returns the batch unchanged: a "do nothing" choice inside a `RandomChoice`."""

    name = "identity"

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return x


class RandomResizedCrop(Augmentation):
    """Crop a random region of each patch and resize it back to the patch size (bilinear).

    As torchvision's: the region's area is a fraction `scale` of the patch and its width/height
    ratio is drawn log-uniformly in `ratio`. A region wider or taller than the patch is clipped
    to it (torchvision retries instead; the clip keeps the draw vectorised). The whole batch is
    one `affine_grid` + `grid_sample` call with a per-sample affine matrix; sampling between
    pixel centres (`align_corners=False`) makes scale = ratio = (1, 1) an exact identity.
    """

    name = "random_resized_crop"

    scale = Interval(
        default=(0.08, 1.0),
        bounds=(0.0, 1.0),
        inclusive_bounds=(False, True),
        step=0.05,
        doc="range of the crop's area, as a fraction of the patch's",
    )
    ratio = Interval(
        default=(3 / 4, 4 / 3),
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        step=0.05,
        doc="range of the crop's width / height ratio (drawn log-uniformly)",
    )

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        count = x.shape[0]
        area = uniform((count,), *self.scale, x, generator)
        log_ratio = uniform(
            (count,), math.log(self.ratio[0]), math.log(self.ratio[1]), x, generator
        )
        aspect = torch.exp(log_ratio)
        # Half-extents in normalised coordinates ([-1, 1] spans the patch): fractions of it.
        width = torch.sqrt(area * aspect).clamp(max=1.0)
        height = torch.sqrt(area / aspect).clamp(max=1.0)
        centre_x = (1.0 - width) * uniform((count,), -1.0, 1.0, x, generator)
        centre_y = (1.0 - height) * uniform((count,), -1.0, 1.0, x, generator)
        zeros = torch.zeros_like(width)
        theta = torch.stack(
            [torch.stack([width, zeros, centre_x], 1), torch.stack([zeros, height, centre_y], 1)],
            dim=1,
        )  # (N, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class RandomFlip(Augmentation):
    """Flip each patch left-right (`horizontal`) and/or up-down (`vertical`).

    Each enabled flip is drawn independently per sample with probability `p`; with p = 1 the
    result equals `torch.flip` over the enabled axes.
    """

    name = "random_flip"

    horizontal = Flag(True, doc="flip left-right")
    vertical = Flag(False, doc="flip up-down")
    p = Probability(0.5, doc="probability of each enabled flip, drawn per sample")

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        count = x.shape[0]
        for enabled, axis in ((self.horizontal, -1), (self.vertical, -2)):
            if enabled:
                chosen = bernoulli_mask((count,), self.p, x, generator)
                x = torch.where(per_sample(chosen), x.flip(axis), x)
        return x


class RandomRotate90(Augmentation):
    """Rotate each square patch by k x 90 degrees, k drawn uniformly in {0, 1, 2, 3} per sample.

    The four rotations of the batch are computed once and each sample picks its own: memory is
    4 x the batch, which is small for patches.
    """

    name = "random_rotate90"

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if x.shape[-1] != x.shape[-2]:
            raise DataError(
                f"RandomRotate90 needs square patches; got spatial size {tuple(x.shape[-2:])}"
            )
        count = x.shape[0]
        turns = torch.randint(4, (count,), generator=generator, device=x.device)
        rotations = torch.stack([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])
        return rotations[turns, torch.arange(count, device=x.device)]


def _centred_kernel(
    radius: int, sigma: float | torch.Tensor | None, like: torch.Tensor
) -> torch.Tensor:
    """A kernel of 2 * radius + 1 taps centred on 0, each row summing to 1, in `like`'s device
    and dtype: a Gaussian of standard deviation `sigma` (a number: one (k,) kernel; an (N, 1)
    tensor: one kernel per row, (N, k)), or a box when `sigma` is None."""
    offsets = torch.arange(-radius, radius + 1, device=like.device, dtype=like.dtype)
    if sigma is None:
        kernel = torch.ones_like(offsets)
    else:
        kernel = torch.exp(-(offsets**2) / (2.0 * sigma**2))
    return kernel / kernel.sum(dim=-1, keepdim=True)


class _KernelOperation(Augmentation):
    """Shared body of the smoothing operations: a kernel of `kernel_size` taps (odd), radius
    `kernel_size // 2`; one tap leaves the batch unchanged (nothing drawn), else
    `_convolve(x, radius, generator)`."""

    kernel_size: int

    def _convolve(
        self, x: torch.Tensor, radius: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        raise NotImplementedError

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        radius = self.kernel_size // 2
        return x if radius == 0 else self._convolve(x, radius, generator)


def _spatial_pad_mode(x: torch.Tensor, pad: int) -> str:
    """Reflect padding (as torchvision's blur) when the patch is large enough, else replicate."""
    return "reflect" if pad < min(x.shape[-2:]) else "replicate"


class GaussianBlur(_KernelOperation):
    """Blur each patch over its SPATIAL axes with a Gaussian of per-sample sigma.

    sigma is drawn uniformly in `sigma` for each sample; the kernel is `kernel_size` wide,
    separable, and the same for every band of a sample. The batch is blurred by two depthwise
    convolutions over (1, N*B, P, P) with groups = N*B (one kernel per sample, repeated over
    bands), with reflect padding. The SSCC reference code applies its blur over a band axis by
    accident; this blurs spatially, as the paper means, so a patch constant in space is left
    unchanged whatever its spectrum.
    """

    name = "gaussian_blur"

    kernel_size = OddSize(3, doc="width of the kernel, in pixels")
    sigma = Interval(
        default=(0.1, 2.0),
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        step=0.1,
        doc="range of the Gaussian's standard deviation, in pixels",
    )
    p = Probability(0.5)

    def _convolve(
        self, x: torch.Tensor, radius: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        count, bands, height, width = x.shape
        sigma = uniform((count, 1), *self.sigma, x, generator)
        kernel = _centred_kernel(radius, sigma, x)  # (N, k)
        kernel = kernel.repeat_interleave(bands, dim=0)  # (N*B, k)
        channels = count * bands
        flat = x.reshape(1, channels, height, width)
        flat = F.pad(flat, (radius, radius, radius, radius), mode=_spatial_pad_mode(x, radius))
        flat = F.conv2d(flat, kernel.view(channels, 1, 1, -1), groups=channels)
        flat = F.conv2d(flat, kernel.view(channels, 1, -1, 1), groups=channels)
        return flat.reshape(count, bands, height, width)


class PixelMask(Augmentation):
    """Zero each spatial position across all bands, independently with probability `p`.

    Here `p` is the per-position masking probability (the SSCC reference uses 0.5), drawn for
    every sample and position; p = 0 is the identity and p = 1 zeros the patch. To mask only
    some samples, wrap it in `Sequence([PixelMask(...)], p=q)`.
    """

    name = "pixel_mask"

    p = Probability(0.5, doc="probability that each position is zeroed")

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        count, _, height, width = x.shape
        masked = bernoulli_mask((count, 1, height, width), self.p, x, generator)
        return torch.where(masked, torch.zeros((), dtype=x.dtype, device=x.device), x)


class BandMask(Augmentation):
    """Zero each band across all positions, independently with probability `p`.

    Here `p` is the per-band masking probability (the SSCC reference uses 0.5), drawn for
    every sample and band; p = 0 is the identity and p = 1 zeros the patch. To mask only some
    samples, wrap it in `Sequence([BandMask(...)], p=q)`.
    """

    name = "band_mask"

    p = Probability(0.5, doc="probability that each band is zeroed")

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        count, bands = x.shape[:2]
        masked = bernoulli_mask((count, bands, 1, 1), self.p, x, generator)
        return torch.where(masked, torch.zeros((), dtype=x.dtype, device=x.device), x)


class SpectralNoise(Augmentation):
    """Add Gaussian noise of standard deviation `std` to every value.

    Absolute by default (`relative=False`): the inputs are expected standardised per band over
    the scene (the SSCC preprocessing), so `std` is a fraction of a band's scene-wide spread.
    With `relative=True` the noise of each band of each sample is scaled by that band's standard
    deviation over the patch's positions (patch-local texture; a flat patch gets no noise).
    """

    name = "spectral_noise"

    std = Real(0.05, bounds=(0.0, None), step=0.01, doc="standard deviation of the noise")
    relative = Flag(False, doc="scale the noise by each band's spread over the patch")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        noise = noise.to(x.dtype) * self.std
        if self.relative:
            noise = noise * x.std(dim=(-2, -1), keepdim=True, correction=0)
        return x + noise


class SpectralScale(Augmentation):
    """Multiply each sample by a gain drawn uniformly in `range` (one per band if `per_band`)."""

    name = "spectral_scale"

    range = Interval(default=(0.9, 1.1), bounds=(0.0, None), step=0.05, doc="range of the gain")
    per_band = Flag(False, doc="draw one gain per band (else one per sample)")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        bands = x.shape[1] if self.per_band else 1
        gain = uniform((x.shape[0], bands, 1, 1), *self.range, x, generator)
        return x * gain


class SpectralShift(Augmentation):
    """Add an offset drawn uniformly in `range` to each sample (one per band if `per_band`).

    Offsets are absolute, in the data's units (standardised bands: fractions of a band's spread).
    """

    name = "spectral_shift"

    range = Interval(default=(-0.1, 0.1), step=0.05, doc="range of the offset")
    per_band = Flag(False, doc="draw one offset per band (else one per sample)")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        bands = x.shape[1] if self.per_band else 1
        offset = uniform((x.shape[0], bands, 1, 1), *self.range, x, generator)
        return x + offset


class SpectralSmooth(_KernelOperation):
    """Smooth each pixel's spectrum with a centred 1-D kernel along the band axis.

    A box kernel of `kernel_size` bands by default, or a Gaussian of standard deviation `sigma`
    (in bands) when `sigma` is given. Edges use replicate padding, so a flat spectrum is kept.
    The batch is one convolution over (N, 1, B, P*P).
    """

    name = "spectral_smooth"

    kernel_size = OddSize(5, doc="width of the kernel, in bands")
    sigma = Real(
        None,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        allow_None=True,
        step=0.1,
        doc="standard deviation of a Gaussian kernel, in bands (None: a box kernel)",
    )
    p = Probability(0.5)

    def _convolve(
        self, x: torch.Tensor, radius: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        count, bands, height, width = x.shape
        kernel = _centred_kernel(radius, self.sigma, x)
        flat = x.reshape(count, 1, bands, height * width)
        flat = F.pad(flat, (0, 0, radius, radius), mode="replicate")
        flat = F.conv2d(flat, kernel.view(1, 1, -1, 1))
        return flat.reshape(count, bands, height, width)


__all__ = [
    "BandMask",
    "GaussianBlur",
    "Identity",
    "PixelMask",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomRotate90",
    "SpectralNoise",
    "SpectralScale",
    "SpectralShift",
    "SpectralSmooth",
]
