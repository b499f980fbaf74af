"""Child processes of tests/test_faults.py.

`python tests/fault_child.py ARGS...` runs the `explore` command exactly as `python -m explore
ARGS...` does (`explore.cli.main`), and also prints phase markers on stdout, so that the test can
SIGKILL the run at a chosen point (a given training batch, the evaluation):

    @train E        epoch E's training starts
    @batch E B      training batch B of epoch E starts
    @eval E         epoch E's evaluation (assigning every pixel) starts
    @saved E        epoch E's checkpoint is written

With FAULT_FSIZE_AFTER_SAVES=k, once k checkpoints are written the process's file size limit
(RLIMIT_FSIZE) is set to the size of that checkpoint: the next one, larger by an epoch's map,
fails for real with EFBIG (Python ignores SIGXFSZ, so the write returns the error).

`save_loop` (run in a forked process by the test) saves `checkpoint_states()` in turn to one
path, forever.
"""

from __future__ import annotations

import itertools
import os
import resource
import sys
from pathlib import Path
from typing import Any

import torch

STATE_FLOATS = 1 << 20  # 4 MB of float32 per checkpoint state
N_STATES = 3


def checkpoint_states() -> list[dict[str, Any]]:
    """Distinct states of a few MB each (their `index` names them)."""
    base = torch.arange(STATE_FLOATS, dtype=torch.float32)
    return [{"index": index, "weights": base + index * STATE_FLOATS} for index in range(N_STATES)]


def save_loop(path: str, ready: Any) -> None:
    from explore.training.checkpoint import save_checkpoint

    states = checkpoint_states()
    ready.set()
    for count in itertools.count():
        save_checkpoint(path, states[count % N_STATES])


def _mark(text: str) -> None:
    print(f"@{text}", flush=True)


def _install_markers() -> None:
    from explore.methods.sscc import SSCC
    from explore.training.trainer import Trainer

    batch = {"epoch": 0, "number": 0}
    saves = {"count": 0}
    fsize_after = int(os.environ.get("FAULT_FSIZE_AFTER_SAVES", "0"))
    epoch_items, training_loss = Trainer.epoch_items, SSCC.training_loss
    evaluate, save_checkpoint = Trainer._evaluate, Trainer.save_checkpoint

    def marked_epoch_items(self: Trainer) -> torch.Tensor:
        batch.update(epoch=self.epoch + 1, number=0)
        _mark(f"train {self.epoch + 1}")
        return epoch_items(self)

    def marked_training_loss(self: SSCC, *args: Any) -> dict[str, torch.Tensor]:
        batch["number"] += 1
        _mark(f"batch {batch['epoch']} {batch['number']}")
        return training_loss(self, *args)

    def marked_evaluate(self: Trainer) -> Any:
        _mark(f"eval {self.epoch}")
        return evaluate(self)

    def marked_save_checkpoint(self: Trainer, path: str | Path) -> Path:
        written = save_checkpoint(self, path)
        _mark(f"saved {self.epoch}")
        saves["count"] += 1
        if fsize_after and saves["count"] == fsize_after:
            limit = Path(path).stat().st_size
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        return written

    Trainer.epoch_items = marked_epoch_items  # type: ignore[method-assign]
    SSCC.training_loss = marked_training_loss  # type: ignore[method-assign]
    Trainer._evaluate = marked_evaluate  # type: ignore[method-assign]
    Trainer.save_checkpoint = marked_save_checkpoint  # type: ignore[method-assign]


if __name__ == "__main__":
    from explore.cli import main

    _install_markers()
    sys.exit(main(sys.argv[1:]))
