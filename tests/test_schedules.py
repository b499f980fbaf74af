"""Learning-rate schedules fitted to a run's length: the cosine's values, its length fitted
with a budget, its state through a checkpoint, and a bad name refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from test_callbacks import Clock, Tick

from explore.data.registry import load_scene
from explore.errors import DataError
from explore.methods.cc import CC
from explore.training.callbacks import TrainingBudget
from explore.training.checkpoint import load_checkpoint
from explore.training.schedules import CosineToEnd, make_schedule

TINY = {"batch_size": 64, "device": "cpu", "patch_size": 7, "n_components": 4}


def _optimizer(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_the_cosine_runs_from_the_rate_down_to_its_floor() -> None:
    optimizer = _optimizer(0.1)
    schedule = CosineToEnd(optimizer, total_epochs=4, floor=0.01)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(4):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    expected = [0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t / 4))) for t in range(5)]
    assert rates == pytest.approx(expected)
    assert rates[0] == pytest.approx(0.1) and rates[2] == pytest.approx(0.0505)
    assert rates[4] == pytest.approx(0.001)


def test_a_new_length_reshapes_the_rest_of_the_curve_at_once() -> None:
    optimizer = _optimizer(0.1)
    schedule = CosineToEnd(optimizer, total_epochs=10)
    for _ in range(2):
        optimizer.step()
        schedule.step()
    schedule.set_length(4)  # after 2 of 4 epochs: half-way down
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0505)
    assert schedule.get_last_lr() == pytest.approx([0.0505])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"total_epochs": 0}, "at least one epoch"),
        ({"total_epochs": 3, "floor": 2.0}, "floor must lie in"),
    ],
)
def test_bad_schedules_are_refused(arguments: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        CosineToEnd(_optimizer(), **arguments)
    with pytest.raises(DataError, match=r"lr_schedule must be one of \('constant', 'cosine'\)"):
        make_schedule("warm", _optimizer(), 3)


def test_a_budget_fits_the_cosine_to_the_epochs_it_plans(tmp_path: Path) -> None:
    scene = load_scene("salinas_a").crop(slice(0, 24), slice(0, 24))
    clock = Clock(per_epoch=5.0)
    model = CC(n_clusters=3, epochs=10, lr=1e-3, lr_schedule="cosine", **TINY)
    path = tmp_path / "checkpoint.pt"
    trainer = model.make_trainer(
        scene, callbacks=[Tick(clock), TrainingBudget(15, clock=clock)], checkpoint_path=path
    )
    trainer.fit()
    # 5 s an epoch in 15 s: 3 epochs, the cosine ending with the third.
    assert trainer.epoch == trainer.epochs == 3
    assert isinstance(trainer.scheduler, CosineToEnd) and trainer.scheduler.total_epochs == 3
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-5)
    assert load_checkpoint(path)["scheduler"]["total_epochs"] == 3


def test_the_constant_default_has_no_schedule() -> None:
    scene = load_scene("salinas_a").crop(slice(0, 24), slice(0, 24))
    trainer = CC(n_clusters=3, epochs=1, **TINY).make_trainer(scene)
    assert trainer.scheduler is None
    with pytest.raises(DataError, match="lr_schedule must be one of"):
        CC(n_clusters=3, epochs=1, lr_schedule="linear", **TINY).fit(scene)
