"""Cluster maps while an epoch is still running, for a person watching a long epoch.

`LiveAssignments` is a `Callback`: every `interval` seconds of training (and never more than a
`max_share` of the time spent training since the last map) it assigns every item with the model
as it is at that batch (`Trainer.assign`: eval mode, no gradient, no random draw, so training
is unchanged) and hands the map to `publish`. An epoch's own map still comes with its record;
these are provisional views between two records.

With feature clusters (`assign="kmeans"`) a map needs the centres the last epoch fitted, so the
first epoch has none; sources larger than `max_items` items get none (their epochs are already
evaluated on a sample).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explore.errors import DataError
from explore.training.callbacks import Callback

if TYPE_CHECKING:
    from explore.training.trainer import Trainer

__all__ = ["LiveAssignments", "LiveMap"]

LIVE_MAX_ITEMS = 1 << 18
"""Largest source (items) that gets maps between epochs (a 512 x 512 scene)."""


@dataclass(frozen=True)
class LiveMap:
    """A provisional assignment: the map of every item after `batch` of `n_batches` batches of
    epoch `epoch` (still running), and the seconds it took."""

    epoch: int
    batch: int
    n_batches: int
    assignments: np.ndarray
    seconds: float


class LiveAssignments(Callback):
    """Publish a provisional map (`LiveMap`) at most every `interval` seconds during an epoch.

    `max_share` bounds the cost: after a map that took s seconds, the next waits at least
    s / max_share seconds (a map costing 0.5 s at most every 2 s with the default 0.25)."""

    def __init__(
        self,
        publish: Callable[[LiveMap], None],
        *,
        interval: float = 2.0,
        max_share: float = 0.25,
        max_items: int = LIVE_MAX_ITEMS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not interval >= 0:
            raise DataError(f"interval must be a number of seconds >= 0; got {interval!r}")
        if not 0 < max_share <= 1:
            raise DataError(f"max_share must lie in (0, 1]; got {max_share!r}")
        self.publish = publish
        self.interval = float(interval)
        self.max_share = float(max_share)
        self.max_items = int(max_items)
        self.clock = clock
        self.published = 0
        self._epoch = 0
        self._n_batches = 0
        self._next = 0.0

    def _can_assign(self, trainer: Trainer) -> bool:
        if trainer.source.n_items > self.max_items:
            return False
        if trainer.clusters_features:  # needs the centres of an epoch already done
            return getattr(trainer.method, "feature_centres_", None) is not None
        return True

    def on_epoch_start(self, trainer: Trainer, epoch: int, n_batches: int) -> None:
        self._epoch, self._n_batches = epoch, n_batches
        self._next = self.clock() + self.interval

    def on_batch_end(self, trainer: Trainer, batch_number: int) -> None:
        now = self.clock()
        last_batch = batch_number + 1 >= self._n_batches  # the epoch's record comes next
        if now < self._next or last_batch or not self._can_assign(trainer):
            return
        assignments = trainer.assign()
        spent = self.clock() - now
        self._next = self.clock() + max(self.interval, spent / self.max_share)
        self.published += 1
        self.publish(LiveMap(self._epoch, batch_number + 1, self._n_batches, assignments, spent))
