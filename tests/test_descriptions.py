"""What the page and the notebooks say about each method, loss term and augmentation is written
once in the library: every registered name has its sentence."""

from __future__ import annotations

import pytest
import torch

from explore.augment import describe_operation, registered_names
from explore.data.registry import load_scene
from explore.errors import DataError
from explore.losses import LOSS_TERMS, describe_loss_term
from explore.methods import DEEP_METHODS, METHODS, get_method_class


def test_every_augmentation_has_a_sentence() -> None:
    for name in registered_names():
        text = describe_operation(name)
        assert 20 < len(text) < 400 and "\n" not in text, name
    assert describe_operation("spectral_shift").startswith("Add an offset")
    with pytest.raises(DataError, match="unknown augmentation 'sparkle'"):
        describe_operation("sparkle")


def test_every_method_has_a_sentence() -> None:
    for name, entry in METHODS.items():
        assert 20 < len(entry.summary) < 300 and entry.summary.endswith("."), name


@pytest.mark.datasets("salinas_a")
@pytest.mark.parametrize("name", sorted(DEEP_METHODS))
def test_every_logged_loss_term_is_described(name: str) -> None:
    scene = load_scene("salinas_a", download=False).crop(slice(20, 36), slice(30, 46))
    options = {"epochs": 1, "batch_size": 32, "device": "cpu", "progress": False}
    method = get_method_class(name)(n_clusters=3, **options)
    trainer = method.make_trainer(scene)
    inputs = method.training_inputs(trainer.source, torch.arange(16), trainer.augment_generator)
    parts = method.training_loss(trainer.model, inputs, trainer.augment_generator)
    for term in parts:
        assert term in LOSS_TERMS or term.startswith("layer"), (name, term)
        assert describe_loss_term(term).endswith(".")
