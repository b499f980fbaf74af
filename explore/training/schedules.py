"""Learning-rate schedules fitted to a run's length.

`CosineToEnd` decays the learning rate along half a cosine that ends with the run: its length
(`total_epochs`) is the trainer's epochs, and `TrainingBudget` sets it again when it fits the
run to a time budget, so a budgeted run ends its decay instead of being cut in the middle of
it. The rate of epoch t is a closed form of t and the length, so a length changed mid-run
reshapes the rest of the curve, and a resumed run (the length is in the scheduler's state)
continues it exactly.
"""

from __future__ import annotations

import math

import torch

from explore.errors import DataError

LR_SCHEDULES = ("constant", "cosine")
"""The learning-rate schedules a method's `lr_schedule` setting names."""


class CosineToEnd(torch.optim.lr_scheduler.LRScheduler):
    """lr(t) = base lr x (floor + (1 - floor) (1 + cos(pi t / T)) / 2) after t of T epochs:
    the base rate at the start, `floor` x the base rate after the last epoch. Stepped once
    per epoch (as the `Trainer` steps every scheduler)."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, total_epochs: int, floor: float = 0.01
    ) -> None:
        if isinstance(total_epochs, bool) or not isinstance(total_epochs, int) or total_epochs < 1:
            raise DataError(f"a cosine schedule needs at least one epoch; got {total_epochs!r}")
        if not 0 <= floor <= 1:
            raise DataError(f"the cosine schedule's floor must lie in [0, 1]; got {floor!r}")
        self.total_epochs = total_epochs
        self.floor = float(floor)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        """The multiple of the base rate after `epoch` epochs."""
        progress = min(max(epoch, 0), self.total_epochs) / self.total_epochs
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def set_length(self, total_epochs: int) -> None:
        """End the decay after `total_epochs` epochs instead; the rate of the coming epoch
        follows at once."""
        self.total_epochs = max(1, int(total_epochs))
        rates = self.get_lr()
        for group, rate in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
        self._last_lr = rates

    def get_lr(self) -> list[float]:
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]


def make_schedule(
    name: str, optimizer: torch.optim.Optimizer, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The schedule `name` (one of `LR_SCHEDULES`) over `epochs` epochs; None for "constant"."""
    if name not in LR_SCHEDULES:
        raise DataError(f"lr_schedule must be one of {LR_SCHEDULES}; got {name!r}")
    if name == "cosine":
        return CosineToEnd(optimizer, int(epochs))
    return None
