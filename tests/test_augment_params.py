"""The parameter layer of `explore.augment`: operations are `param.Parameterized`, their
parameters' bounds and types are declared with param and enforced with a clear message, and
pools saved as JSON (inside checkpoints and run settings) load back identically."""

from __future__ import annotations

import json

import param
import pytest
import torch

from explore.augment import (
    AugmentationPool,
    BandMask,
    ColorJitter,
    GaussianBlur,
    Posterize,
    RandomChoice,
    RandomFlip,
    RandomResizedCrop,
    Sequence,
    SpectralNoise,
    SpectralShift,
    SpectralSmooth,
    from_dict,
    get_preset,
    list_presets,
    registered_names,
)
from explore.augment.parameters import Interval, OddSize, Probability
from explore.errors import DataError

# `get_preset("sscc_reference").to_dict()` as written before operations were Parameterized.
SAVED_SSCC_REFERENCE = json.loads(
    '{"name": "sscc_reference", "root": {"name": "sequence", "params": {"ops": ['
    '{"name": "random_resized_crop", "params": {"scale": [0.08, 1.0], '
    '"ratio": [0.75, 1.3333333333333333], "p": 1.0}}, '
    '{"name": "random_flip", "params": {"horizontal": true, "vertical": false, "p": 0.5}}, '
    '{"name": "random_choice", "params": {"ops": ['
    '{"name": "gaussian_blur", "params": {"kernel_size": 3, "sigma": [0.1, 2.0], "p": 0.5}}, '
    '{"name": "pixel_mask", "params": {"p": 0.5}}, {"name": "band_mask", "params": {"p": 0.5}}'
    '], "weights": null, "p": 1.0}}], "p": 1.0}}}'
)


def test_operations_declare_their_parameters_with_param() -> None:
    blur = GaussianBlur()
    assert isinstance(blur, param.Parameterized)
    assert blur.parameter_names() == ("kernel_size", "sigma", "p")  # p last, as saved
    assert isinstance(GaussianBlur.param.p, Probability)
    assert GaussianBlur.param.p.bounds == (0.0, 1.0) and GaussianBlur.param.p.default == 0.5
    assert isinstance(GaussianBlur.param.kernel_size, OddSize)
    assert GaussianBlur.param.kernel_size.step == 2
    assert isinstance(RandomResizedCrop.param.scale, Interval)
    assert RandomResizedCrop.param.scale.bounds == (0.0, 1.0)
    assert RandomResizedCrop.param.scale.inclusive_bounds == (False, True)
    assert ColorJitter.param.hue.bounds == (0.0, 0.5)
    assert blur.param.p.doc  # shown as the editor's tooltip


def test_name_is_the_registry_key_and_not_a_parameter() -> None:
    assert BandMask.name == BandMask().name == "band_mask"
    assert Sequence.name == "sequence" and RandomChoice.name == "random_choice"
    for name in registered_names():
        if name != "random_choice":
            assert "name" not in from_dict({"name": name}).params()
    with pytest.raises(DataError, match="unknown parameter"):
        BandMask(name="pixel_mask")
    with pytest.raises(TypeError):  # param: a constant parameter
        BandMask().name = "pixel_mask"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RandomFlip(p=1.5), r"RandomFlip\.p must be a probability in \[0, 1\]; got 1\.5"),
        (lambda: BandMask(p=True), r"BandMask\.p must be a probability"),
        (lambda: GaussianBlur(kernel_size=4), r"GaussianBlur\.kernel_size must be an odd"),
        (
            lambda: RandomResizedCrop(scale=(0.0, 1.0)),
            r"RandomResizedCrop\.scale must be a pair of finite numbers \(low, high\) with "
            r"0 < low <= high <= 1; got \(0\.0, 1\.0\)",
        ),
        (lambda: SpectralShift(range=(1.0, float("nan"))), r"SpectralShift\.range"),
        (lambda: SpectralNoise(std=-1.0), r"SpectralNoise\.std must be a finite number >= 0"),
        (lambda: SpectralSmooth(sigma=0.0), r"SpectralSmooth\.sigma must be a finite number > 0"),
        (lambda: ColorJitter(hue=0.6), r"ColorJitter\.hue must be a finite number in \[0, 0\.5\]"),
        (lambda: Posterize(bits=(4, 9)), r"Posterize\.bits must be an int or a pair of ints"),
    ],
)
def test_bounds_refuse_bad_values_naming_operation_and_parameter(build, message: str) -> None:
    with pytest.raises(DataError, match=message):
        build()


def test_assignments_are_validated_too() -> None:
    noise = SpectralNoise()
    with pytest.raises(DataError, match=r"SpectralNoise\.std"):
        noise.std = -1.0
    assert noise.std == 0.05
    noise.std = 0  # normalised as the constructor does
    assert noise.std == 0.0 and isinstance(noise.std, float)


def test_values_are_normalised_as_json_and_old_constructors_did() -> None:
    assert SpectralShift(range=[1, 2]).range == (1.0, 2.0)  # a JSON list, ints
    assert SpectralShift(range=0.5).range == (0.5, 0.5)  # a number: the degenerate interval
    assert Posterize(bits=5).bits == (5, 5)
    assert GaussianBlur(5, (0.5, 1.0), 0.3) == GaussianBlur(kernel_size=5, sigma=(0.5, 1.0), p=0.3)
    assert Sequence([BandMask()], 0.5).p == 0.5
    with pytest.raises(DataError, match="both by position and by name"):
        BandMask(0.5, p=0.5)


def test_an_old_saved_pool_loads_identically() -> None:
    pool = AugmentationPool.from_dict(SAVED_SSCC_REFERENCE)
    assert pool == get_preset("sscc_reference")
    assert json.loads(json.dumps(pool.to_dict())) == SAVED_SSCC_REFERENCE
    assert json.dumps(pool.to_dict()) == json.dumps(SAVED_SSCC_REFERENCE)  # same key order


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_round_trips_through_json(name: str) -> None:
    pool = get_preset(name)
    rebuilt = AugmentationPool.from_dict(json.loads(json.dumps(pool.to_dict())))
    assert rebuilt == pool and rebuilt.to_dict() == pool.to_dict()
    assert rebuilt.describe() == pool.describe()
    x = torch.rand(6, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    first = pool(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(rebuilt(x, generator=torch.Generator().manual_seed(1)), first)
