"""What happens around the training loop, as callbacks: the `Trainer` keeps the loop (batches,
losses, the per-epoch assignment) and calls each callback's hooks in order.

- `Checkpointing`: the free-space check before the first epoch and a checkpoint after every
  epoch (in every process: writing one gathers each process's random streams; rank 0 writes).
- `ProgressBars`: tqdm bars where a person watches (`explore.training.progress`).
- `TrainingBudget`: fits the number of epochs to a budget of seconds after timing the first
  epoch, scaling the learning-rate schedule with it, so the run ends its schedule in time.
- `FunctionCallback`: a plain function of each epoch's `EpochRecord` (the CLI's epoch lines,
  the dashboard's updates, a notebook's list of records); any callable passed as a callback is
  wrapped in one.

The trainer calls the caller's callbacks in the order given, then `Checkpointing`, then
`ProgressBars`: an epoch's checkpoint is written after the callbacks have seen the epoch, so a
callback may keep state across a resume (`state_dict`, saved in the checkpoint under its
`state_key` and given back to `load_state_dict` when the checkpoint is loaded) and that state
always matches the epochs the checkpoint holds. A run killed between a callback's
`on_epoch_end` and the checkpoint redoes that epoch on resume, so callbacks see it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from explore.errors import DataError, OutputError
from explore.outputs import check_free_space
from explore.training.history import EpochRecord
from explore.training.progress import TrainingProgress, progress_wanted

if TYPE_CHECKING:
    from explore.training.trainer import Trainer

__all__ = [
    "Callback",
    "Checkpointing",
    "FunctionCallback",
    "ProgressBars",
    "TrainingBudget",
    "as_callbacks",
]


class Callback:
    """Hooks the `Trainer` calls; each does nothing unless overridden. By default only the main
    process (rank 0) calls them; `every_process = True` makes every process of a distributed
    run call them (needed where the hook joins a collective)."""

    every_process: ClassVar[bool] = False

    @property
    def state_key(self) -> str:
        """Where `state_dict` is kept in a checkpoint (the class name)."""
        return type(self).__name__

    def on_fit_start(self, trainer: Trainer) -> None:
        """`Trainer.fit` begins (before the first epoch it will run)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int, n_batches: int) -> None:
        """An epoch of `n_batches` batches begins."""

    def on_batch_end(self, trainer: Trainer, batch_number: int) -> None:
        """A batch (0-based `batch_number`) was trained on."""

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        """An epoch ended: its record is in `trainer.history`."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """`Trainer.fit` ended: all epochs done, a stop request, or an error."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback needs to continue exactly after a resume (default: nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what `state_dict` gave."""


class FunctionCallback(Callback):
    """A function called with each epoch's record (on the main process)."""

    def __init__(self, function: Callable[[EpochRecord], None]) -> None:
        self.function = function

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.function(record)

    def __repr__(self) -> str:
        return f"FunctionCallback({self.function!r})"


def as_callbacks(callbacks: Iterable[Callback | Callable[[EpochRecord], None]]) -> list[Callback]:
    """Callbacks as `Callback` objects: functions are wrapped in `FunctionCallback`."""
    wrapped: list[Callback] = []
    for callback in callbacks:
        if isinstance(callback, Callback):
            wrapped.append(callback)
        elif callable(callback):
            wrapped.append(FunctionCallback(callback))
        else:
            raise TypeError(f"a callback must be a Callback or a function; got {callback!r}")
    return wrapped


class Checkpointing(Callback):
    """A checkpoint at `trainer.checkpoint_path` after every epoch (atomic, fsynced: a resume
    continues exactly), after checking before the first epoch that the folder exists and has
    room for two checkpoints (old and new during a save) plus `trainer.output_reserve_bytes`."""

    every_process = True

    def on_fit_start(self, trainer: Trainer) -> None:
        path = trainer.checkpoint_path
        if path is None or not trainer.is_main_process or trainer.epoch >= trainer.epochs:
            return
        check_checkpoint_space(trainer, Path(path))

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        if trainer.checkpoint_path is not None:
            trainer.save_checkpoint(trainer.checkpoint_path)


def check_checkpoint_space(trainer: Trainer, path: Path) -> None:
    """OutputError when `path`'s folder is missing or its filesystem lacks room for two
    checkpoints plus `trainer.output_reserve_bytes` (the file already there counts as free)."""
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"checkpoint folder {folder} does not exist")
    existing = path.stat().st_size if path.is_file() else 0
    check_free_space(
        folder,
        2 * trainer.estimated_checkpoint_bytes() + trainer.output_reserve_bytes,
        what=f"{trainer.epochs} epochs of checkpoints and outputs",
        reclaimable=existing,
    )


class ProgressBars(Callback):
    """An epoch bar over a whole `fit` (the last loss and scores beside it) and a batch bar per
    epoch, where `progress_wanted(trainer.progress)` (a notebook, a terminal, or asked)."""

    def __init__(self) -> None:
        self._bars: TrainingProgress | None = None
        self._batches: Any = None

    def _enabled(self, trainer: Trainer) -> bool:
        return progress_wanted(trainer.progress)

    def on_fit_start(self, trainer: Trainer) -> None:
        self._bars = TrainingProgress(
            self._enabled(trainer), total_epochs=trainer.epochs, done_epochs=trainer.epoch
        )

    def on_epoch_start(self, trainer: Trainer, epoch: int, n_batches: int) -> None:
        self._close_batches()
        if self._enabled(trainer):
            from tqdm.auto import tqdm

            self._batches = tqdm(
                total=n_batches, desc=f"epoch {epoch}/{trainer.epochs}", unit="batch", leave=False
            )

    def on_batch_end(self, trainer: Trainer, batch_number: int) -> None:
        if self._batches is not None:
            self._batches.update(1)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self._close_batches()
        if self._bars is not None:
            self._bars.epoch_done(record)

    def on_fit_end(self, trainer: Trainer) -> None:
        self._close_batches()
        if self._bars is not None:
            self._bars.close()
            self._bars = None

    def _close_batches(self) -> None:
        if self._batches is not None:
            self._batches.close()
            self._batches = None


class TrainingBudget(Callback):
    """Train for at most `seconds`: after the first epoch (timed from the start of `fit`,
    its assignment included), the run's epochs become the whole epochs that fit the budget at
    that pace (never more than planned, at least one), and a step schedule (`step_size`, e.g.
    SSCC's decay every 20 of 40 epochs) is shortened in proportion, or a schedule that ends
    with the run (`CosineToEnd`) takes the new length, so the run ends its
    schedule instead of being cut in the middle of it.

    A first epoch slowed by something passing (warm-up, another job starting beside it) would
    otherwise cost the whole run its epochs: while the plan is cut short, each later epoch end
    plans again from the pace since the first epoch, and lengthens the run (and its schedule)
    when more epochs fit, up to the epochs asked for. It stops doing so once the schedule has
    decayed or the method's final stage (e.g. the neighbour stage) has begun, so neither
    moves under the run. Should the machine slow down later, the run still stops at the first
    epoch end past the budget. The epochs chosen and the seconds spent are kept in the
    checkpoint, so a resumed run keeps its plan (without planning again) and its remaining
    time.

    Epoch counts then depend on the machine's speed: runs with a budget are comparable in
    time, not bitwise across machines. Every process of a distributed run decides alike (it
    runs everywhere, on rank 0's clock)."""

    every_process = True

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.perf_counter) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise DataError(f"budget must be a number of seconds; got {seconds!r}")
        if not math.isfinite(seconds) or seconds <= 0:
            raise DataError(f"budget must be a positive number of seconds; got {seconds!r}")
        self.seconds = float(seconds)
        self.clock = clock
        self.planned_epochs: int | None = None  # the epochs fitted to the budget
        self.spent = 0.0  # seconds of earlier fits (before a resume)
        self._started: float | None = None
        # Set in the fit that made the first plan (so it may plan again): the epochs asked
        # for, the schedule's period before shortening, the seconds the first epoch ended at.
        self._asked: tuple[int, int | None, float] | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self._started = self.clock()
        if self.planned_epochs is not None:  # resumed: keep the plan
            trainer.epochs = min(trainer.epochs, self.planned_epochs)

    def elapsed(self) -> float:
        """Seconds of training so far, earlier fits included."""
        return self.spent + (0.0 if self._started is None else self.clock() - self._started)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        elapsed = self.elapsed()
        if self.planned_epochs is None:
            per_epoch = elapsed / max(trainer.epoch, 1)
            fitted = int(self.seconds // per_epoch) if per_epoch > 0 else trainer.epochs
            fitted = max(trainer.epoch, 1, min(trainer.epochs, fitted))
            fitted = _as_rank_zero(trainer, fitted)
            self._asked = (trainer.epochs, _schedule_period(trainer), elapsed)
            if fitted < trainer.epochs:
                _shorten_schedule(trainer, fitted / trainer.epochs)
                trainer.epochs = fitted
                _fit_schedule_length(trainer)
            self.planned_epochs = trainer.epochs
            trainer.history.metadata["budget"] = {
                "seconds": self.seconds,
                "first_epoch_seconds": round(per_epoch, 3),
                "epochs": trainer.epochs,
            }
        elif _as_rank_zero(trainer, elapsed > self.seconds) and trainer.epoch < trainer.epochs:
            trainer.request_stop()
        elif self._may_plan_again(trainer):
            self._plan_again(trainer, elapsed)

    def _may_plan_again(self, trainer: Trainer) -> bool:
        """Whether the plan may still grow: made in this fit, cut below the epochs asked for,
        the schedule not yet decayed and the method not in its final stage."""
        if self._asked is None or trainer.epochs >= self._asked[0]:
            return False
        period = _schedule_period(trainer)
        if period is not None and trainer.epoch >= period:
            return False
        in_stage = getattr(trainer.method, "in_neighbour_stage", None)
        return not (callable(in_stage) and in_stage())

    def _plan_again(self, trainer: Trainer, elapsed: float) -> None:
        """Lengthen the run to the epochs that fit at the pace since the first epoch."""
        asked, period, first_end = self._asked
        pace = (elapsed - first_end) / max(trainer.epoch - 1, 1)
        fitted = trainer.epoch + int((self.seconds - elapsed) // pace) if pace > 0 else asked
        fitted = _as_rank_zero(trainer, min(asked, fitted))
        if fitted <= trainer.epochs:
            return
        if period is not None:
            trainer.scheduler.step_size = max(1, round(period * fitted / asked))
        trainer.epochs = self.planned_epochs = fitted
        _fit_schedule_length(trainer)
        trainer.history.metadata["budget"]["epochs"] = fitted

    def on_fit_end(self, trainer: Trainer) -> None:
        self.spent = self.elapsed()
        self._started = None

    def state_dict(self) -> dict[str, Any]:
        # Written at an epoch end, so the seconds of this fit so far count.
        return {"planned_epochs": self.planned_epochs, "spent": self.elapsed()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        planned = state.get("planned_epochs")
        self.planned_epochs = None if planned is None else int(planned)
        self.spent = float(state.get("spent", 0.0))


def _as_rank_zero(trainer: Trainer, value: Any) -> Any:
    """Rank 0's `value` in every process (a collective), so processes decide alike."""
    if not trainer.process.distributed:
        return value
    from explore.training.distributed import all_gather_objects

    return all_gather_objects(value)[0]


def _schedule_period(trainer: Trainer) -> int | None:
    """The step schedule's period in epochs (`step_size`), None without one."""
    return getattr(trainer.scheduler, "step_size", None)


def _fit_schedule_length(trainer: Trainer) -> None:
    """A schedule that ends with the run (`set_length`, e.g. `CosineToEnd`) ends with its
    new length."""
    if hasattr(trainer.scheduler, "set_length"):
        trainer.scheduler.set_length(trainer.epochs)


def _shorten_schedule(trainer: Trainer, fraction: float) -> None:
    """Scale a step schedule's period (`step_size`) by `fraction`, at least one epoch."""
    scheduler = trainer.scheduler
    if scheduler is not None and hasattr(scheduler, "step_size"):
        scheduler.step_size = max(1, round(scheduler.step_size * fraction))
