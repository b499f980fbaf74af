"""Tests of `explore.augment.images` and the CC / SACC image presets, on 1- and 3-channel batches.

Invariants of every operation (shape, dtype, device, range, p = 0, seeding, JSON round trip),
the exact meaning of each operation, RandAugment's draws and its 1-channel safety, and the
`cc_weak` / `sacc_strong` presets on real CIFAR-10 and MNIST images.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from shared_data import dataset_path, require_datasets

from explore.augment import (
    Augmentation,
    AugmentationPool,
    AutoContrast,
    Brightness,
    Color,
    ColorJitter,
    Contrast,
    Equalize,
    GaussianBlur,
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
    build,
    from_dict,
    get_preset,
)
from explore.augment.images import (
    GRAY_WEIGHTS,
    MAX_MAGNITUDE,
    RAND_AUGMENT_OPS,
    RandAugmentPlan,
    adjust_brightness,
    rotate,
)
from explore.augment.presets import (
    blur_kernel_size,
    cc_weak,
    glyph_strong,
    glyph_weak,
    sacc_strong,
)
from explore.data.images import read_idx
from explore.data.registry import load_images
from explore.errors import DataError


def all_ops() -> list[Augmentation]:
    """One instance of every image operation, with p = 1 where p is a per-image rate."""
    return [
        ColorJitter(p=1.0),
        RandomGrayscale(p=1.0),
        Brightness(),
        Contrast(),
        Color(),
        Sharpness(),
        Solarize(),
        Posterize(),
        Equalize(),
        AutoContrast(),
        Rotate(),
        ShearX(),
        ShearY(),
        TranslateX(),
        TranslateY(),
        RandAugment(n_ops=2, magnitude=10, p=1.0),
    ]


OPS = all_ops()
OP_IDS = [op.name for op in OPS]
COLOUR_ONLY = {"random_grayscale", "color"}  # no-ops on one channel
SHAPES = {1: (12, 1, 28, 28), 3: (12, 3, 32, 32)}


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_images(channels: int = 3, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random images in [0, 1]: noise blurred by a 2x upsampling, so geometric and
    histogram operations have structure to act on."""
    count, _, height, width = SHAPES[channels]
    coarse = torch.rand((count, channels, height // 2, width // 2), generator=seeded(seed))
    images = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear")
    return images.clamp(0.0, 1.0).to(dtype)


@pytest.fixture(scope="module")
def cifar() -> torch.Tensor:
    """256 real CIFAR-10 test images (256, 3, 32, 32) in [0, 1], about 26 per class."""
    require_datasets("cifar10_subset")
    images = load_images("cifar10_subset", download=False).per_class(26)
    return images.to_tensor()[:256].contiguous()


@pytest.fixture(scope="module")
def mnist() -> torch.Tensor:
    """The first 64 real MNIST test digits (64, 1, 28, 28) in [0, 1]."""
    images = read_idx(dataset_path("mnist_test", "images"))
    return images.to_tensor()[:64].contiguous()


# ---------------------------------------------------------------------------- every operation


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_keeps_shape_dtype_device_range_and_input(
    op: Augmentation, channels: int, dtype: torch.dtype
) -> None:
    x = random_images(channels, dtype)
    before = x.clone()
    y = op(x, generator=seeded(1))
    assert y.shape == x.shape
    assert y.dtype == dtype
    assert y.device == x.device
    assert y.min() >= 0.0 and y.max() <= 1.0, f"{op.name} left [0, 1]"
    assert torch.equal(x, before), "the input must not be modified"
    if channels == 1 and op.name in COLOUR_ONLY:
        assert torch.equal(y, x), f"{op.name} must leave 1-channel images unchanged"
    else:
        assert not torch.equal(y, x), f"{op.name} with these parameters should change the batch"


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_with_p_zero_is_exact_identity(op: Augmentation, channels: int) -> None:
    x = random_images(channels)
    assert torch.equal(op.with_params(p=0.0)(x, generator=seeded(1)), x)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_is_reproducible_with_a_generator_and_ignores_the_global_one(
    op: Augmentation, channels: int
) -> None:
    op = op.with_params(p=0.5)  # Equalize and AutoContrast are random only through p
    x = random_images(channels)
    torch.manual_seed(0)
    global_state = torch.get_rng_state()
    first = op(x, generator=seeded(5))
    assert torch.equal(torch.get_rng_state(), global_state), "the global generator was used"
    torch.manual_seed(123)
    again = op(x, generator=seeded(5))
    assert torch.equal(first, again)
    if channels == 3:  # on one channel some ops never change anything
        assert not torch.equal(first, op(x, generator=seeded(6)))


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_params_round_trip_through_json(op: Augmentation) -> None:
    spec = json.loads(json.dumps(op.to_dict()))
    rebuilt = from_dict(spec)
    assert type(rebuilt) is type(op)
    assert rebuilt == op
    assert rebuilt.params() == op.params()
    assert build(op.name, **op.params()) == op
    x = random_images(3)
    assert torch.equal(rebuilt(x, generator=seeded(3)), op(x, generator=seeded(3)))


def test_empty_batch_passes_through() -> None:
    for op in OPS:
        assert op(torch.zeros(0, 3, 8, 8)).shape == (0, 3, 8, 8)


@pytest.mark.parametrize(
    ("factory", "parameter"),
    [
        (lambda: ColorJitter(hue=0.6), "hue"),
        (lambda: ColorJitter(brightness=-0.1), "brightness"),
        (lambda: ColorJitter(saturation="0.4"), "saturation"),
        (lambda: RandomGrayscale(p=1.5), "p"),
        (lambda: Brightness(factor=(-0.1, 1.0)), "factor"),
        (lambda: Sharpness(factor=(2.0, 1.0)), "factor"),
        (lambda: Solarize(threshold=(0.0, 1.5)), "threshold"),
        (lambda: Posterize(bits=(0, 8)), "bits"),
        (lambda: Posterize(bits=(4, 9)), "bits"),
        (lambda: Posterize(bits=4.5), "bits"),
        (lambda: Rotate(degrees=(1.0,)), "degrees"),
        (lambda: ShearY(shear=(0.3, -0.3)), "shear"),
        (lambda: TranslateX(fraction=(-2.0, 0.0)), "fraction"),
        (lambda: RandAugment(n_ops=-1), "n_ops"),
        (lambda: RandAugment(n_ops=1.5), "n_ops"),
        (lambda: RandAugment(magnitude=MAX_MAGNITUDE + 1), "magnitude"),
        (lambda: RandAugment(p=-0.5), "p"),
    ],
)
def test_invalid_parameters_raise_data_error_naming_them(factory, parameter: str) -> None:
    with pytest.raises(DataError, match=parameter):
        factory()


def test_colour_ops_reject_channel_counts_other_than_one_or_three() -> None:
    bands = torch.rand(4, 5, 8, 8)
    for op in (ColorJitter(p=1.0), RandomGrayscale(p=1.0), Color(), RandAugment(p=1.0)):
        with pytest.raises(DataError, match="5 channels"):
            op(bands, generator=seeded(0))
    # Operations that need no colour act on any channel count.
    for op in (ColorJitter(saturation=0.0, hue=0.0, p=1.0), Brightness(), Equalize(), Rotate()):
        assert op(bands, generator=seeded(0)).shape == bands.shape


def test_rand_augment_rejects_bad_channel_counts_on_every_call() -> None:
    """Unlike kornia's, the failure does not depend on whether the colour op was drawn."""
    op = RandAugment(n_ops=1, p=1.0)
    for seed in range(10):
        with pytest.raises(DataError, match="RandAugment"):
            op(torch.rand(2, 2, 8, 8), generator=seeded(seed))


# ---------------------------------------------------------------------------- colour jitter


def test_color_jitter_on_one_channel_applies_brightness_and_contrast_only() -> None:
    x = random_images(1)
    y = ColorJitter(p=1.0)(x, generator=seeded(0))  # saturation and hue are on by default
    assert y.shape == x.shape and not torch.equal(y, x)
    only_colour = ColorJitter(brightness=0.0, contrast=0.0, saturation=0.4, hue=0.1, p=1.0)
    assert torch.equal(only_colour(x, generator=seeded(0)), x)
    assert not torch.equal(only_colour(random_images(3), generator=seeded(0)), random_images(3))


def test_color_jitter_brightness_factor_stays_in_its_range() -> None:
    x = 0.1 + 0.5 * random_images(3)  # in [0.1, 0.6]: a factor <= 1.4 never clips
    jitter = ColorJitter(brightness=0.4, contrast=0.0, saturation=0.0, hue=0.0, p=1.0)
    ratio = jitter(x, generator=seeded(2)) / x
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-5)
    assert per_image.min() >= 0.6 - 1e-5 and per_image.max() <= 1.4 + 1e-5
    assert per_image[:, 0].std() > 0.05, "factors should differ between images"


def test_saturation_and_hue_leave_grey_rgb_images_unchanged() -> None:
    grey = random_images(1).expand(-1, 3, -1, -1).contiguous()
    jitter = ColorJitter(brightness=0.0, contrast=0.0, saturation=0.4, hue=0.1, p=1.0)
    assert torch.allclose(jitter(grey, generator=seeded(0)), grey, atol=1e-5)


def test_color_jitter_p_is_a_per_image_rate() -> None:
    x = random_images(3).repeat(40, 1, 1, 1)  # 480 images
    y = ColorJitter(p=0.8)(x, generator=seeded(0))
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert abs(changed - 0.8) < 0.065  # 3.5 standard deviations


def test_random_grayscale_gives_the_luma_on_three_equal_channels() -> None:
    x = random_images(3)
    y = RandomGrayscale(p=1.0)(x)
    luma = sum(w * x[:, c] for c, w in enumerate(GRAY_WEIGHTS))
    for channel in range(3):
        assert torch.allclose(y[:, channel], luma, atol=1e-6)
    y[:, 0] = 0.0  # a real tensor, not a stride-0 view of one channel
    assert not torch.equal(y[:, 0], y[:, 1])


# ---------------------------------------------------------------------------- single operations


def test_equalize_and_auto_contrast_stretch_a_low_contrast_image(cifar: torch.Tensor) -> None:
    x = 0.4 + 0.2 * cifar[:16]  # real images squeezed into [0.4, 0.6]
    for op in (Equalize(), AutoContrast()):
        y = op(x)
        spread = (y.amax(dim=(-2, -1)) - y.amin(dim=(-2, -1))).mean().item()
        assert spread > 0.9, f"{op.name} should stretch each channel's range (got {spread:.2f})"


def test_auto_contrast_maps_each_channel_to_zero_one_and_keeps_flat_ones() -> None:
    x = random_images(3)
    x[0] = 0.3  # a flat image
    y = AutoContrast()(x)
    assert torch.equal(y[0], x[0])
    assert torch.allclose(y[1:].amin(dim=(-2, -1)), torch.tensor(0.0))
    assert torch.allclose(y[1:].amax(dim=(-2, -1)), torch.tensor(1.0))


def test_solarize_inverts_values_above_the_threshold() -> None:
    x = random_images(3)
    y = Solarize(threshold=0.5)(x)
    assert torch.equal(y, torch.where(x > 0.5, 1.0 - x, x))
    assert torch.equal(Solarize(threshold=1.0)(x), x)


def test_posterize_keeps_the_high_bits() -> None:
    x = random_images(3)
    assert torch.equal(Posterize(bits=8)(x), x)
    levels = Posterize(bits=2)(x) * 255.0
    assert set(torch.round(levels).unique().tolist()) <= {0.0, 64.0, 128.0, 192.0}
    assert torch.allclose(levels, torch.round(levels), atol=1e-4)


def test_brightness_contrast_and_sharpness_follow_their_definitions() -> None:
    x = random_images(3)
    assert torch.allclose(Brightness(factor=0.5)(x), x * 0.5)
    flat = Contrast(factor=0.0)(x)
    luma_mean = sum(w * x[:, c] for c, w in enumerate(GRAY_WEIGHTS)).mean(dim=(-2, -1))
    assert torch.allclose(flat, luma_mean.view(-1, 1, 1, 1).expand_as(x), atol=1e-6)
    assert torch.allclose(Sharpness(factor=1.0)(x), x, atol=1e-6)
    assert torch.allclose(Color(factor=1.0)(x), x, atol=1e-6)


def test_rotate_by_ninety_degrees_matches_rot90_and_zero_is_identity() -> None:
    x = random_images(3)
    assert torch.allclose(Rotate(degrees=90.0)(x), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)
    assert torch.allclose(Rotate(degrees=0.0)(x), x, atol=1e-6)


def test_translate_moves_whole_pixels_and_fills_black() -> None:
    x = random_images(3)  # 32 x 32
    right = TranslateX(fraction=0.25)(x)
    assert torch.allclose(right[..., 8:], x[..., :-8], atol=1e-6)
    assert right[..., :8].abs().max() < 1e-6  # black, up to the interpolation's rounding
    up = TranslateY(fraction=-0.25)(x)
    assert torch.allclose(up[..., :-8, :], x[..., 8:, :], atol=1e-6)
    assert up[..., -8:, :].abs().max() < 1e-6


def test_shear_acts_about_the_centre() -> None:
    x = torch.rand(4, 3, 31, 31, generator=seeded(0))
    sheared = ShearX(shear=0.2)(x)
    # kornia's warp normalises coordinates, so "unchanged" holds up to about 1e-4.
    assert torch.allclose(sheared[..., 15, :], x[..., 15, :], atol=1e-3)  # the centre row
    assert (sheared[..., 5, :] - x[..., 5, :]).abs().mean() > 0.1
    assert torch.allclose(ShearY(shear=0.2)(x)[..., 15], x[..., 15], atol=1e-3)
    assert torch.allclose(ShearX(shear=0.0)(x), x, atol=1e-5)


# ---------------------------------------------------------------------------- RandAugment


def test_rand_augment_on_one_channel_never_raises(mnist: torch.Tensor) -> None:
    """kornia's RandAugment fails on 5 of 40 calls on 1 channel; this one must not."""
    op = RandAugment(n_ops=3, magnitude=30, p=1.0)
    colour = RAND_AUGMENT_OPS.index("color")
    colour_drawn = 0
    for seed in range(60):
        batch = mnist[:8]
        colour_drawn += int((op.draw_plan(batch, seeded(seed)).ops == colour).sum())
        y = op(batch, generator=seeded(seed))
        assert y.shape == batch.shape and y.min() >= 0 and y.max() <= 1
    assert colour_drawn > 20, "the test should have drawn the colour op many times"


def test_rand_augment_draws_ops_uniformly_and_applies_them_with_p() -> None:
    op = RandAugment(n_ops=2, magnitude=12, p=0.5)
    plan = op.draw_plan(torch.zeros(2800, 3, 4, 4), seeded(0))
    assert plan.ops.shape == (2, 2800)
    counts = torch.bincount(plan.ops.flatten(), minlength=len(RAND_AUGMENT_OPS))
    assert len(RAND_AUGMENT_OPS) == 14
    assert counts.min() > 300 and counts.max() < 500, counts.tolist()  # 400 expected each
    assert abs(plan.applied.float().mean().item() - 0.5) < 0.03
    assert plan.levels.min() >= 0 and plan.levels.max() <= 12 / MAX_MAGNITUDE
    assert plan.levels.max() > 0.9 * 12 / MAX_MAGNITUDE
    assert set(plan.signs.unique().tolist()) == {-1.0, 1.0}


def forced_plan(name: str, levels: torch.Tensor, signs: torch.Tensor | None = None):
    count = levels.shape[0]
    index = RAND_AUGMENT_OPS.index(name)
    return RandAugmentPlan(
        ops=torch.full((1, count), index),
        applied=torch.ones((1, count), dtype=torch.bool),
        levels=levels.view(1, -1),
        signs=(torch.ones(count) if signs is None else signs).view(1, -1),
    )


def test_rand_augment_magnitude_mapping() -> None:
    x = random_images(3)
    levels = torch.linspace(0.0, 1.0, x.shape[0])
    signs = torch.where(torch.arange(x.shape[0]) % 2 == 0, 1.0, -1.0)
    solarized = RandAugment.apply_plan(x, forced_plan("solarize", levels))
    threshold = (1.0 - levels).view(-1, 1, 1, 1)
    assert torch.equal(solarized, torch.where(x > threshold, 1.0 - x, x))
    brightened = RandAugment.apply_plan(x, forced_plan("brightness", levels, signs))
    assert torch.allclose(brightened, adjust_brightness(x, 1 + 0.9 * levels * signs))
    rotated = RandAugment.apply_plan(x, forced_plan("rotate", levels, signs))
    assert torch.allclose(rotated, rotate(x, 30.0 * levels * signs))
    posterized = RandAugment.apply_plan(x, forced_plan("posterize", levels))
    assert torch.equal(posterized[0], x[0])  # level 0: 8 bits, the identity
    last = torch.round(posterized[-1] * 255)  # level 1: 4 bits
    assert torch.all(last % 16 == 0)


def test_rand_augment_colour_op_is_identity_on_one_channel() -> None:
    levels = torch.full((12,), 1.0)
    grey = random_images(1)
    assert torch.equal(RandAugment.apply_plan(grey, forced_plan("color", levels)), grey)
    rgb = random_images(3)
    assert not torch.equal(RandAugment.apply_plan(rgb, forced_plan("color", levels)), rgb)


def test_rand_augment_routes_each_image_through_its_own_ops() -> None:
    x = torch.cat([random_images(3, seed=s) for s in range(3)])  # 36 images
    op = RandAugment(n_ops=2, magnitude=20, p=0.7)
    plan = op.draw_plan(x, seeded(4))
    batched = RandAugment.apply_plan(x, plan)
    assert torch.equal(batched, op(x, generator=seeded(4)))  # __call__ = draw, then apply
    for index in range(x.shape[0]):
        column = RandAugmentPlan(
            ops=plan.ops[:, index : index + 1],
            applied=plan.applied[:, index : index + 1],
            levels=plan.levels[:, index : index + 1],
            signs=plan.signs[:, index : index + 1],
        )
        alone = RandAugment.apply_plan(x[index : index + 1], column)
        assert torch.allclose(batched[index : index + 1], alone, atol=1e-5), index


def test_rand_augment_with_no_ops_is_the_identity() -> None:
    x = random_images(3)
    assert torch.equal(RandAugment(n_ops=0, p=1.0)(x, generator=seeded(0)), x)


# ---------------------------------------------------------------------------- presets


def test_blur_kernel_is_about_a_tenth_of_the_image_and_odd() -> None:
    assert [blur_kernel_size(s) for s in (8, 28, 32, 64, 96, 224)] == [3, 3, 3, 7, 11, 23]
    with pytest.raises(DataError, match="image_size"):
        blur_kernel_size(0)


def test_image_presets_are_registered_and_take_options() -> None:
    pool = get_preset("sacc_strong", image_size=64, n_ops=3)
    ops = pool.root.ops
    assert [op.name for op in ops] == [
        "random_resized_crop",
        "random_flip",
        "color_jitter",
        "random_grayscale",
        "gaussian_blur",
        "rand_augment",
    ]
    assert ops[4].kernel_size == 7 and ops[4].p == 0.5
    assert ops[5].n_ops == 3
    assert get_preset("cc_weak").root.ops[0].scale == (0.08, 1.0)
    assert get_preset("cc_weak", image_size=28).root.ops[0].scale == (0.2, 1.0)
    assert cc_weak(crop_scale=(0.5, 1.0)).root.ops[0].scale == (0.5, 1.0)
    with pytest.raises(DataError, match="image_sise"):
        get_preset("cc_weak", image_sise=28)
    with pytest.raises(DataError, match="crop_scale"):
        cc_weak(crop_scale=(0.0, 1.0))


def test_glyph_presets_are_the_image_recipes_without_the_mirror_and_with_half_crops() -> None:
    distortions = ["rotate", "shear_x", "shear_y"]
    photo_names = [op.name for op in cc_weak(28).root.ops if op.name != "random_flip"]
    assert [op.name for op in glyph_weak().root.ops] == [
        photo_names[0],
        *distortions,
        *photo_names[1:],
    ]
    assert [op.name for op in glyph_weak(rotation=0, shear=0).root.ops] == photo_names
    assert [op.name for op in glyph_strong().root.ops] == [
        op.name for op in sacc_strong(28).root.ops if op.name != "random_flip"
    ]
    assert glyph_strong().root.ops[-1].n_ops == 2 and sacc_strong().root.ops[-1].n_ops == 5
    for glyph in (glyph_weak, glyph_strong):
        assert glyph().root.ops[0].scale == (0.5, 1.0)
        assert glyph(crop_scale=None).root.ops[0].scale == (0.2, 1.0)  # back to CC's rule
    # with no flip to draw, one seeded view of a glyph is never its mirror image
    x = torch.zeros(64, 1, 28, 28)
    x[..., :14] = 1.0  # bright left half; a crop of half the area is wider than 14 px
    view = get_preset("glyph_weak", image_size=28)(x, generator=seeded(1))
    left, right = view[..., :14].sum(dim=(1, 2, 3)), view[..., 14:].sum(dim=(1, 2, 3))
    assert bool((left > right).all())
    mirrored = get_preset("cc_weak", image_size=28)(x, generator=seeded(1))
    assert bool(
        (mirrored[..., :14].sum(dim=(1, 2, 3)) < mirrored[..., 14:].sum(dim=(1, 2, 3))).any()
    )


def test_glyph_weak_view_slants_a_stroke_as_a_hand_does() -> None:
    """A vertical bar stays a bar in CC's weak view of a glyph without distortions; the glyph
    view leans it (within 25 degrees and a shear of 0.3), so two views of a digit differ in
    slant as two writers' digits do."""
    x = torch.zeros(256, 1, 28, 28)
    x[..., 4:24, 13:15] = 1.0

    def lean(view: torch.Tensor) -> torch.Tensor:
        """Horizontal shift of the bar's upper third against its lower third, in pixels."""
        columns = torch.arange(28, dtype=torch.float32)

        def centre(rows: torch.Tensor) -> torch.Tensor:
            mass = rows.sum(dim=(1, 2))
            return (rows.sum(dim=1) * columns).sum(dim=1) / mass.clamp_min(1e-6)

        return centre(view[:, 0, 6:12]) - centre(view[:, 0, 16:22])

    upright = get_preset("glyph_weak", image_size=28, rotation=0, shear=0)(x, generator=seeded(0))
    slanted = get_preset("glyph_weak", image_size=28)(x, generator=seeded(0))
    assert lean(upright).abs().max() < 0.5
    leans = lean(slanted).abs()
    assert (leans > 1.0).float().mean() > 0.5  # most views lean
    assert leans.max() < 10.0  # never turned on its side
    for bad in (-5.0, float("nan"), "25"):
        with pytest.raises(DataError, match="rotation must be a number"):
            glyph_weak(rotation=bad)
    with pytest.raises(DataError, match="shear must be a number"):
        glyph_weak(shear=-0.1)


def test_plain_background_share_by_hand() -> None:
    """The share of a typical image's pixels at its darkest (or lightest) value: ink on paper
    either way round, a flat image is all background, a smooth ramp has little."""
    from explore.augment import looks_like_glyphs, plain_background_share

    ink = np.zeros((3, 1, 10, 10), dtype=np.float32)
    ink[:, :, 2:8, 4:6] = 1.0  # 12 of 100 pixels are the stroke
    assert plain_background_share(ink) == pytest.approx(0.88)
    assert plain_background_share(1.0 - ink) == pytest.approx(0.88)  # dark ink, light paper
    assert plain_background_share(np.full((2, 1, 4, 4), 0.3, np.float32)) == 1.0
    ramp = np.linspace(0, 1, 100, dtype=np.float32).reshape(1, 1, 10, 10)
    assert plain_background_share(ramp) == pytest.approx(0.05)  # 5 of 100 at either end
    assert looks_like_glyphs(ink) and not looks_like_glyphs(ramp)
    assert not looks_like_glyphs(np.repeat(ink, 3, axis=1))  # colour: never glyphs
    with pytest.raises(DataError, match="N, C, H, W"):
        plain_background_share(np.zeros((10, 10), np.float32))


@pytest.mark.datasets("mnist_test", "cifar10_subset")
def test_digits_look_like_glyphs_and_grey_photographs_do_not() -> None:
    """On the real sets the share lies far on either side of the threshold (measured: MNIST
    0.82, 8 x 8 digits 0.48, grey CIFAR-10 0.02)."""
    from explore.augment import looks_like_glyphs, plain_background_share
    from explore.augment.presets import GLYPH_BACKGROUND
    from explore.data.registry import load_images

    for name in ("mnist_test", "digits"):
        images = load_images(name, download=False).images
        assert plain_background_share(images) > 1.5 * GLYPH_BACKGROUND
        assert looks_like_glyphs(images)
    photographs = load_images("cifar10_subset", download=False).to_grayscale().images
    assert plain_background_share(photographs) < 0.2 * GLYPH_BACKGROUND
    assert not looks_like_glyphs(photographs)


@pytest.mark.parametrize("factory", [cc_weak, sacc_strong, glyph_weak, glyph_strong])
def test_image_preset_round_trips_and_is_reproducible(factory) -> None:
    pool = factory()
    rebuilt = AugmentationPool.from_dict(json.loads(json.dumps(pool.to_dict())))
    assert rebuilt == pool
    x = random_images(3)
    assert torch.equal(rebuilt(x, generator=seeded(9)), pool(x, generator=seeded(9)))


def test_image_presets_on_a_batch_of_256_cifar_images(cifar: torch.Tensor) -> None:
    assert cifar.shape == (256, 3, 32, 32)
    distances = {}
    for name in ("cc_weak", "sacc_strong"):
        pool = get_preset(name)
        pool(cifar[:8], generator=seeded(0))  # warm-up: first calls pay one-off set-up costs
        start = time.perf_counter()
        view = pool(cifar, generator=seeded(0))
        seconds = time.perf_counter() - start
        print(f"{name}: one view of 256 x (3, 32, 32) in {seconds:.3f} s")
        assert seconds < 10.0
        assert view.shape == cifar.shape
        assert view.min() >= -1e-6 and view.max() <= 1 + 1e-6
        distances[name] = (view - cifar).abs().mean().item()
    print(f"mean |view - input|: {distances}")
    assert distances["sacc_strong"] > distances["cc_weak"] + 0.01


def test_image_presets_on_real_digits(mnist: torch.Tensor) -> None:
    for name in ("cc_weak", "sacc_strong", "glyph_weak", "glyph_strong"):
        pool = get_preset(name, image_size=28)
        for seed in range(3):
            view = pool(mnist, generator=seeded(seed))
            assert view.shape == mnist.shape
            assert not torch.equal(view, mnist)


def test_gaussian_blur_of_the_presets_runs_on_small_images() -> None:
    for size in (28, 32):
        blur = GaussianBlur(kernel_size=blur_kernel_size(size), sigma=(0.1, 2.0), p=1.0)
        x = torch.rand(4, 1, size, size, generator=seeded(0))
        y = blur(x, generator=seeded(0))
        assert y.shape == x.shape and y.std() < x.std()
