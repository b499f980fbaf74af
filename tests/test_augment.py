"""Tests of `explore.augment`: invariants of each operation, pools, presets and round trips."""

from __future__ import annotations

import json
import time

import pytest
import torch

from explore.augment import (
    Augmentation,
    AugmentationPool,
    BandMask,
    GaussianBlur,
    Identity,
    PixelMask,
    RandomChoice,
    RandomFlip,
    RandomResizedCrop,
    RandomRotate90,
    Sequence,
    SpectralNoise,
    SpectralScale,
    SpectralShift,
    SpectralSmooth,
    build,
    from_dict,
    get_preset,
    list_presets,
    registered_names,
)
from explore.errors import DataError


def all_ops() -> list[Augmentation]:
    """One instance of every operation, with p = 1 where that makes it always act."""
    return [
        RandomResizedCrop(),
        RandomFlip(horizontal=True, vertical=True, p=1.0),
        RandomRotate90(),
        GaussianBlur(p=1.0),
        PixelMask(),
        BandMask(),
        SpectralNoise(),
        SpectralScale(per_band=True),
        SpectralShift(),
        SpectralSmooth(p=1.0),
        Sequence([RandomFlip(p=1.0), SpectralShift()]),
        RandomChoice([PixelMask(), BandMask(), SpectralScale()], weights=[1, 2, 3]),
    ]


OPS = all_ops()
OP_IDS = [op.name for op in OPS]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_batch(shape=(16, 6, 9, 9), dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=seeded(seed), dtype=dtype)


# ---------------------------------------------------------------------------- every operation


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_keeps_shape_dtype_device_and_input(op: Augmentation, dtype: torch.dtype) -> None:
    x = random_batch(dtype=dtype)
    before = x.clone()
    y = op(x, generator=seeded(1))
    assert y.shape == x.shape
    assert y.dtype == dtype
    assert y.device == x.device
    assert torch.isfinite(y).all()
    assert torch.equal(x, before), "the input must not be modified"
    assert not torch.equal(y, x), f"{op.name} with these parameters should change the batch"


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_with_p_zero_is_exact_identity(op: Augmentation) -> None:
    x = random_batch()
    assert torch.equal(op.with_params(p=0.0)(x, generator=seeded(1)), x)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_is_deterministic_with_a_seeded_generator(op: Augmentation) -> None:
    if not isinstance(op, PixelMask | BandMask):  # for masks p is a per-position rate
        op = op.with_params(p=0.5)  # some ops (flip, smooth) are random only through p
    x = random_batch()
    first = op(x, generator=seeded(5))
    again = op(x, generator=seeded(5))
    other = op(x, generator=seeded(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_op_params_round_trip_through_json(op: Augmentation) -> None:
    spec = json.loads(json.dumps(op.to_dict()))
    rebuilt = from_dict(spec)
    assert type(rebuilt) is type(op)
    assert rebuilt == op
    assert rebuilt.params() == op.params()
    assert build(op.name, **op.params()) == op
    x = random_batch()
    assert torch.equal(rebuilt(x, generator=seeded(3)), op(x, generator=seeded(3)))


def test_every_registered_name_builds_with_defaults_except_choice() -> None:
    for name in registered_names():
        if name == "random_choice":  # needs its ops
            continue
        op = build(name)
        assert op.name == name
        assert repr(op).startswith(f"{type(op).__name__}(")


def test_empty_batch_passes_through() -> None:
    x = torch.zeros(0, 4, 5, 5)
    for op in OPS:
        assert op(x).shape == x.shape


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("factory", "parameter"),
    [
        (lambda: GaussianBlur(kernel_size=4), "kernel_size"),
        (lambda: GaussianBlur(sigma=(0.0, 1.0)), "sigma"),
        (lambda: GaussianBlur(sigma=(2.0, 1.0)), "sigma"),
        (lambda: RandomResizedCrop(scale=(0.5, 1.5)), "scale"),
        (lambda: RandomResizedCrop(ratio=(0.0, 1.0)), "ratio"),
        (lambda: RandomFlip(p=1.5), "p"),
        (lambda: RandomFlip(horizontal="yes"), "horizontal"),
        (lambda: PixelMask(p=-0.1), "p"),
        (lambda: BandMask(p=True), "p"),
        (lambda: SpectralNoise(std=-1.0), "std"),
        (lambda: SpectralScale(range=(-1.0, 1.0)), "range"),
        (lambda: SpectralShift(range=(1.0,)), "range"),
        (lambda: SpectralSmooth(kernel_size=0), "kernel_size"),
        (lambda: SpectralSmooth(sigma=0.0), "sigma"),
        (lambda: RandomChoice([]), "ops"),
        (lambda: RandomChoice([Identity(), Identity()], weights=[1.0]), "weights"),
        (lambda: RandomChoice([Identity(), Identity()], weights=[0.0, 0.0]), "weights"),
        (lambda: RandomChoice([Identity()], weights=[-1.0]), "weights"),
        (lambda: Sequence([1, 2]), "ops"),
        (lambda: Sequence([{"name": "no_such_op"}]), "no_such_op"),
    ],
)
def test_invalid_parameters_raise_data_error_naming_them(factory, parameter: str) -> None:
    with pytest.raises(DataError, match=parameter):
        factory()


def test_build_and_from_params_reject_unknown_names_and_keys() -> None:
    with pytest.raises(DataError, match="gaussian_blur"):  # the message lists known names
        build("gausian_blur")
    with pytest.raises(DataError, match="sigmas"):
        GaussianBlur.from_params({"sigmas": [0.1, 1.0]})
    with pytest.raises(DataError, match="p"):
        GaussianBlur().with_params(p=2.0)


def test_bad_inputs_raise_data_error() -> None:
    with pytest.raises(DataError, match="4 axes"):
        PixelMask()(torch.ones(3, 5, 5))
    with pytest.raises(DataError, match="floating"):
        PixelMask()(torch.ones(2, 3, 5, 5, dtype=torch.int64))
    with pytest.raises(DataError, match="generator"):
        PixelMask()(torch.ones(2, 3, 5, 5), generator=0)
    with pytest.raises(DataError, match="square"):
        RandomRotate90()(torch.ones(2, 3, 5, 6))


# ---------------------------------------------------------------------------- spatial ops


@pytest.mark.parametrize(
    ("horizontal", "vertical", "dims"),
    [(True, False, [-1]), (False, True, [-2]), (True, True, [-2, -1])],
)
def test_flip_with_p_one_equals_torch_flip(horizontal: bool, vertical: bool, dims) -> None:
    x = random_batch()
    y = RandomFlip(horizontal=horizontal, vertical=vertical, p=1.0)(x)
    assert torch.equal(y, torch.flip(x, dims))


def test_flip_is_drawn_per_sample() -> None:
    x = random_batch((2000, 2, 5, 5))
    y = RandomFlip(p=0.5)(x, generator=seeded(0))
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    kept = (y == x).flatten(1).all(1)
    assert (flipped | kept).all()
    assert abs(flipped.float().mean().item() - 0.5) < 0.05


def test_rotate90_keeps_values_per_sample_and_uses_all_four_turns() -> None:
    x = random_batch((64, 3, 7, 7))
    y = RandomRotate90()(x, generator=seeded(0))
    assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    turns = []
    for sample in range(x.shape[0]):
        matches = [
            k for k in range(4) if torch.equal(y[sample], torch.rot90(x[sample], k, (-2, -1)))
        ]
        assert len(matches) == 1
        turns.append(matches[0])
    assert set(turns) == {0, 1, 2, 3}


def test_resized_crop_with_full_scale_and_square_ratio_is_identity() -> None:
    x = random_batch((8, 4, 11, 11))
    y = RandomResizedCrop(scale=(1.0, 1.0), ratio=(1.0, 1.0))(x, generator=seeded(0))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_resized_crop_zooms_differently_per_sample() -> None:
    patch = random_batch((1, 4, 11, 11))[0]
    pool = AugmentationPool(RandomResizedCrop(scale=(0.1, 0.5)))
    views = pool.preview(patch, n=6, generator=seeded(0))
    assert views.shape == (6, 4, 11, 11)
    # A zoomed-in crop of random noise is smoother than the patch: fewer extreme values.
    assert (views.flatten(1).std(1) < patch.std()).all()
    assert len({tuple(v.flatten()[:5].tolist()) for v in views}) == 6


def test_blur_with_tiny_sigma_is_identity_and_keeps_constants() -> None:
    x = random_batch((8, 5, 9, 9))
    tiny = GaussianBlur(kernel_size=3, sigma=(1e-3, 1e-3), p=1.0)
    torch.testing.assert_close(tiny(x), x, atol=1e-6, rtol=0)
    constant = torch.full((4, 5, 9, 9), 3.25)
    wide = GaussianBlur(kernel_size=5, sigma=(0.5, 3.0), p=1.0)
    torch.testing.assert_close(wide(constant, generator=seeded(0)), constant)


def test_blur_is_spatial_not_spectral() -> None:
    # Constant in space, varying across bands: a spatial blur leaves it unchanged.
    spectrum = torch.linspace(-2.0, 5.0, 7).reshape(1, 7, 1, 1)
    x = spectrum.expand(6, 7, 9, 9).contiguous()
    y = GaussianBlur(kernel_size=5, sigma=(1.0, 2.0), p=1.0)(x, generator=seeded(0))
    torch.testing.assert_close(y, x)
    # An impulse in space is spread, with a per-sample sigma (different centre values).
    impulse = torch.zeros(32, 3, 9, 9)
    impulse[:, :, 4, 4] = 1.0
    blurred = GaussianBlur(kernel_size=3, sigma=(0.1, 2.0), p=1.0)(impulse, generator=seeded(0))
    centre = blurred[:, 0, 4, 4]
    assert (centre <= 1.0 + 1e-6).all()
    assert centre.max() - centre.min() > 0.3
    torch.testing.assert_close(blurred.sum(dim=(-2, -1)), torch.ones(32, 3))
    assert torch.equal(blurred[:, 0], blurred[:, 2]), "same kernel for every band of a sample"


def test_pixel_mask_zeros_half_the_positions_across_all_bands() -> None:
    x = torch.ones(400, 8, 11, 11)
    y = PixelMask(p=0.5)(x, generator=seeded(0))
    zero = y == 0
    assert abs(zero.float().mean().item() - 0.5) < 0.02
    assert torch.equal(zero.all(dim=1), zero.any(dim=1)), "a masked position spans every band"
    assert torch.equal(PixelMask(p=1.0)(x), torch.zeros_like(x))


def test_band_mask_zeros_half_the_bands_across_all_positions() -> None:
    x = torch.ones(4000, 8, 4, 4)
    y = BandMask(p=0.5)(x, generator=seeded(0))
    zero = (y == 0).flatten(2)
    assert abs(zero.float().mean().item() - 0.5) < 0.02
    assert torch.equal(zero.all(dim=2), zero.any(dim=2)), "a masked band spans every position"
    per_band = zero.all(dim=2).float().mean(dim=0)
    assert ((per_band - 0.5).abs() < 0.05).all()


# ---------------------------------------------------------------------------- spectral ops


def test_spectral_noise_has_the_requested_spread() -> None:
    x = random_batch((500, 4, 8, 8))
    y = SpectralNoise(std=0.05)(x, generator=seeded(0))
    assert abs((y - x).std().item() - 0.05) < 0.002
    flat = torch.linspace(0, 1, 4).reshape(1, 4, 1, 1).expand(10, 4, 8, 8).contiguous()
    relative = SpectralNoise(std=0.5, relative=True)(flat, generator=seeded(0))
    assert torch.equal(relative, flat), "relative noise of a spatially flat patch is zero"


def test_spectral_scale_is_one_gain_per_sample_or_per_band() -> None:
    x = torch.rand(200, 6, 5, 5, generator=seeded(0)) + 1.0
    gain = SpectralScale(range=(0.9, 1.1))(x, generator=seeded(1)) / x
    per_sample_gain = gain.flatten(1)
    torch.testing.assert_close(per_sample_gain.min(1).values, per_sample_gain.max(1).values)
    assert per_sample_gain.min() >= 0.9 - 1e-6 and per_sample_gain.max() <= 1.1 + 1e-6
    assert per_sample_gain[:, 0].std() > 0.03, "gains differ between samples"
    banded = SpectralScale(range=(0.5, 1.5), per_band=True)(x, generator=seeded(1)) / x
    banded = banded.flatten(2)
    torch.testing.assert_close(banded.min(2).values, banded.max(2).values)
    assert (banded[:, :, 0].std(dim=1) > 0.05).all(), "gains differ between bands"


def test_spectral_shift_is_one_offset_per_sample_or_per_band() -> None:
    x = random_batch((200, 6, 5, 5))
    offset = (SpectralShift(range=(-0.1, 0.1))(x, generator=seeded(1)) - x).flatten(1)
    torch.testing.assert_close(offset.min(1).values, offset.max(1).values)
    assert offset.abs().max() <= 0.1 + 1e-6
    banded = SpectralShift(range=(-1.0, 1.0), per_band=True)(x, generator=seeded(1)) - x
    assert (banded[:, :, 0, 0].std(dim=1) > 0.05).all()


def test_spectral_smooth_flattens_a_band_alternating_signal() -> None:
    signs = torch.tensor([(-1.0) ** band for band in range(16)]).reshape(1, 16, 1, 1)
    x = signs.expand(4, 16, 3, 3).contiguous()
    y = SpectralSmooth(kernel_size=5, p=1.0)(x)
    assert y.std(dim=1).max() < 0.35 * x.std(dim=1).min()
    torch.testing.assert_close(y[:, 2:-2].abs(), torch.full_like(y[:, 2:-2], 0.2))
    gaussian = SpectralSmooth(kernel_size=5, sigma=1.0, p=1.0)(x)
    assert gaussian.std(dim=1).max() < 0.5 * x.std(dim=1).min()
    constant = torch.full((2, 16, 3, 3), 2.0)
    torch.testing.assert_close(SpectralSmooth(p=1.0)(constant), constant)
    same = random_batch((2, 16, 3, 3))
    assert torch.equal(SpectralSmooth(kernel_size=1, p=1.0)(same), same)


# ---------------------------------------------------------------------------- pools


class _CountingShift(Augmentation):
    """Adds `amount` and counts how often it is called (not registered: no name)."""

    def __init__(self, amount: float = 1.0, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.amount = amount
        self.calls = 0

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        self.calls += 1
        return x + self.amount


def test_random_choice_with_weights_one_zero_only_applies_the_first() -> None:
    x = torch.zeros(300, 2, 3, 3)
    choice = RandomChoice([SpectralShift(range=(1, 1)), SpectralShift(range=(2, 2))], [1, 0])
    assert torch.equal(choice(x, generator=seeded(0)), torch.ones_like(x))
    flipped = choice.with_params(weights=[0, 1])
    assert torch.equal(flipped(x, generator=seeded(0)), torch.full_like(x, 2.0))


def test_random_choice_picks_one_op_per_sample_with_one_call_per_op() -> None:
    ops = [_CountingShift(1.0), _CountingShift(10.0), _CountingShift(100.0)]
    choice = RandomChoice(ops, weights=[1, 1, 2])
    y = choice(torch.zeros(4000, 2, 3, 3), generator=seeded(0))
    values = y[:, 0, 0, 0]
    assert torch.equal(y, values.reshape(-1, 1, 1, 1).expand_as(y))
    assert set(values.unique().tolist()) == {1.0, 10.0, 100.0}
    fractions = [(values == v).float().mean().item() for v in (1.0, 10.0, 100.0)]
    assert fractions == pytest.approx([0.25, 0.25, 0.5], abs=0.03)
    assert [op.calls for op in ops] == [1, 1, 1], "one batched call per op, not per sample"


def test_sequence_applies_in_order_with_its_own_probability() -> None:
    x = torch.ones(2000, 2, 3, 3)
    ordered = Sequence([SpectralShift(range=(1, 1)), SpectralScale(range=(3, 3))])
    assert torch.equal(ordered(x), torch.full_like(x, 6.0))
    assert torch.equal(Sequence([])(x), x)
    sometimes = Sequence([SpectralShift(range=(1, 1))], p=0.5)
    values = sometimes(x, generator=seeded(0))[:, 0, 0, 0]
    assert set(values.unique().tolist()) == {1.0, 2.0}
    assert abs((values == 2.0).float().mean().item() - 0.5) < 0.05


def test_nested_pool_round_trips_and_describes_itself() -> None:
    pool = AugmentationPool(
        [
            RandomFlip(p=0.3),
            RandomChoice(
                [Sequence([BandMask(p=0.2), SpectralNoise(std=0.1)]), GaussianBlur()],
                weights=[2, 1],
                p=0.7,
            ),
        ],
        name="nested",
    )
    spec = json.loads(json.dumps(pool.to_dict()))
    assert spec["root"]["params"]["ops"][1]["params"]["ops"][0]["name"] == "sequence"
    rebuilt = AugmentationPool.from_dict(spec)
    assert rebuilt == pool
    x = random_batch()
    assert torch.equal(rebuilt(x, generator=seeded(2)), pool(x, generator=seeded(2)))
    lines = pool.describe().splitlines()
    assert lines[0] == "sequence(p=1)"
    assert lines[1].startswith("  random_flip(") and "p=0.3" in lines[1]
    assert lines[2].startswith("  random_choice(weights=[2.0, 1.0]")
    assert lines[3] == "    sequence(p=1)"
    assert lines[4].startswith("      band_mask(p=0.2")
    assert lines[6].startswith("    gaussian_blur(kernel_size=3, sigma=(0.1, 2)")


def test_pool_views_differ_from_each_other_and_from_the_input() -> None:
    pool = get_preset("sscc_reference")
    x = random_batch((32, 8, 11, 11))
    first, second = pool.views(x, n_views=2, generator=seeded(0))
    assert first.shape == second.shape == x.shape
    assert not torch.equal(first, second)
    assert not torch.equal(first, x) and not torch.equal(second, x)
    # Per sample, too: views of one sample almost never coincide.
    same = (first == second).flatten(1).all(1)
    assert same.float().mean() < 0.1
    with pytest.raises(DataError, match="n_views"):
        pool.views(x, n_views=0)


def test_pool_preview_draws_n_versions_of_one_patch() -> None:
    pool = get_preset("strong")
    patch = random_batch((1, 8, 11, 11))[0]
    previews = pool.preview(patch, n=8, generator=seeded(0))
    assert previews.shape == (8, 8, 11, 11)
    assert len({tuple(p.flatten()[:10].tolist()) for p in previews}) == 8
    with pytest.raises(DataError, match="patch"):
        pool.preview(patch[None])


# ---------------------------------------------------------------------------- presets


def test_presets_are_listed_and_unknown_names_fail_listing_them() -> None:
    assert list_presets() == [
        "cc_weak",
        "glyph_strong",
        "glyph_weak",
        "sacc_strong",
        "sscc_reference",
        "strong",
        "weak",
    ]
    with pytest.raises(DataError, match="sscc_reference"):
        get_preset("sscc")


def test_sscc_reference_matches_the_method_description() -> None:
    root = get_preset("sscc_reference").root
    assert isinstance(root, Sequence)
    crop, flip, choice = root.ops
    assert isinstance(crop, RandomResizedCrop) and crop.p == 1.0
    assert isinstance(flip, RandomFlip) and flip.horizontal and not flip.vertical
    assert flip.p == 0.5
    assert isinstance(choice, RandomChoice) and choice.probabilities() == pytest.approx([1 / 3] * 3)
    blur, pixels, bands = choice.ops
    assert blur == GaussianBlur(kernel_size=3, sigma=(0.1, 2.0), p=0.5)
    assert pixels == PixelMask(p=0.5) and bands == BandMask(p=0.5)


@pytest.mark.parametrize("name", ["sscc_reference", "weak", "strong"])
def test_presets_round_trip_and_return_fresh_pools(name: str) -> None:
    pool = get_preset(name)
    rebuilt = AugmentationPool.from_dict(json.loads(json.dumps(pool.to_dict())))
    assert rebuilt == pool and rebuilt.name == name
    x = random_batch((16, 8, 11, 11))
    assert torch.equal(rebuilt(x, generator=seeded(4)), pool(x, generator=seeded(4)))
    pool.root.ops[0].p = 0.0
    assert get_preset(name) != pool, "editing one pool must not change the preset"


def test_strong_preset_distorts_more_than_weak() -> None:
    x = random_batch((256, 8, 11, 11))
    weak_change = (get_preset("weak")(x, generator=seeded(0)) - x).abs().mean()
    strong_view = get_preset("strong")(x, generator=seeded(0))
    # Compare against the input up to the flips/rotations both apply: spectra sorted per sample.
    strong_change = (strong_view.flatten(1).sort(1).values - x.flatten(1).sort(1).values).abs()
    weak_sorted = get_preset("weak")(x, generator=seeded(0)).flatten(1).sort(1).values
    weak_sorted_change = (weak_sorted - x.flatten(1).sort(1).values).abs().mean()
    assert weak_change > 0
    assert strong_change.mean() > 3 * weak_sorted_change


def test_sscc_reference_pool_is_fast_on_a_training_batch() -> None:
    pool = get_preset("sscc_reference")
    x = random_batch((512, 8, 11, 11))
    pool(x)  # warm-up (first-call allocations)
    start = time.perf_counter()
    first, second = pool.views(x, generator=seeded(0))
    elapsed = (time.perf_counter() - start) / 2
    print(f"sscc_reference on (512, 8, 11, 11): {elapsed * 1000:.1f} ms per view")
    assert first.shape == x.shape
    assert elapsed < 5.0


def test_a_second_class_cannot_take_a_registered_name() -> None:
    with pytest.raises(DataError, match="pixel_mask"):

        class _Clash(Augmentation):
            name = "pixel_mask"
