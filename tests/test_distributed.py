"""Training across processes: two CPU processes (gloo) launched by torchrun.

- Every method's loss, computed by two processes on half a batch each with the outputs gathered
  across processes, equals the loss one process computes on the whole batch, and the gradients
  DistributedDataParallel leaves equal the single-process ones (tests/distributed_worker.py).
- `torchrun --nproc_per_node 2 -m explore train` on a tiny crop of Salinas-A runs 2 epochs and
  writes one set of outputs (rank 0 only).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from distributed_worker import BATCH, cases, run  # tests/ is on sys.path

from explore.data.registry import load_scene
from explore.training import RunHistory
from explore.training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("distributed_worker.py")


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Two local processes under torchrun (a free port on localhost: --standalone)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=cwd)


def test_gathered_losses_and_gradients_equal_the_single_process_ones(tmp_path: Path) -> None:
    result = torchrun(str(WORKER), str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for name, method, model in cases():
        single = run(method, model, BATCH)
        for rank, results in enumerate(ranks):
            got = results[name]
            assert got["parts"] == pytest.approx(single["parts"], rel=1e-5, abs=1e-7), (name, rank)
            assert got["grads"].keys() == single["grads"].keys()
            for parameter, gradient in single["grads"].items():
                torch.testing.assert_close(
                    got["grads"][parameter], gradient, rtol=1e-4, atol=1e-6, msg=parameter
                )


@pytest.mark.datasets("salinas_a")
def test_torchrun_trains_on_two_processes_and_writes_one_set_of_outputs(tmp_path: Path) -> None:
    scene = load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))
    np.savez(tmp_path / "crop.npz", cube=scene.cube, labels=scene.labels)
    out = tmp_path / "run"
    args = ["-m", "explore", "train", "--method", "sscc", "--dataset", "crop.npz"]
    args += ["--clusters", "3", "--epochs", "2", "--device", "cpu", "--out", str(out)]
    result = torchrun(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("epoch 1:") for line in lines) == 1  # rank 0 prints, once
    assert sum(line.startswith("epoch 2:") for line in lines) == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.pt",
        "history.npz",
        "labels.npy",
        "metrics.json",
    ]  # one set, no temporaries
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["processes"] == 2
    history = RunHistory.load(out / "history.npz")
    assert [r.epoch for r in history] == [1, 2]
    assert history.metadata["processes"] == 2
    assert np.load(out / "labels.npy").shape == (24, 24)
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["epoch"] == 2 and len(state["rng"]["augment_ranks"]) == 2
