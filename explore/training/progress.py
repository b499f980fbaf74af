"""Progress shown while a person waits for training: one bar over the epochs (with the last
epoch's loss and, when labels exist, its scores) and one over the batches of the epoch under
way, drawn by `tqdm.auto` (a widget in Jupyter, text on a terminal).

`progress=None`, the default of every method, shows them in a Jupyter kernel or when stderr is
a terminal, and not in logs, pipes or CI; `progress=True` always, `False` never. tqdm's own
``TQDM_DISABLE=1`` silences them too. Only the main process of a distributed run draws them.
"""

from __future__ import annotations

import sys
from typing import Any

from explore.training.history import EpochRecord


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (where tqdm.auto draws a widget)."""
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_wanted(progress: bool | None) -> bool:
    """`progress` resolved: None means "where a person watches" (a notebook or a terminal)."""
    if progress is not None:
        return bool(progress)
    return in_notebook() or sys.stderr.isatty()


class TrainingProgress:
    """The epoch bar of a whole `Trainer.fit` (`total_epochs`); nothing is drawn when `enabled`
    is False. The `ProgressBars` callback (`explore.training.callbacks`) draws it and the batch
    bar of each epoch."""

    def __init__(
        self, enabled: bool, *, total_epochs: int | None = None, done_epochs: int = 0
    ) -> None:
        self.enabled = enabled
        self._epochs: Any = None
        if enabled and total_epochs is not None:
            from tqdm.auto import tqdm

            self._epochs = tqdm(
                total=total_epochs, initial=done_epochs, desc="training", unit="epoch"
            )

    def epoch_done(self, record: EpochRecord) -> None:
        if self._epochs is None:
            return
        shown = {"loss": f"{record.losses.get('loss', float('nan')):.4f}"}
        shown.update({name: f"{value:.3f}" for name, value in record.metrics.items()})
        self._epochs.set_postfix(shown, refresh=False)
        self._epochs.update(1)

    def close(self) -> None:
        if self._epochs is not None:
            self._epochs.close()
            self._epochs = None
