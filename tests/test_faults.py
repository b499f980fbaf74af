"""Faults (issue 9, reliability): SIGKILL at random points of a run then `--resume`, SIGKILL
during checkpoint saves, a file size limit hit mid-run, no free space, unwritable output folders.

The runs are real `explore train` processes (`tests/fault_child.py` runs `explore.cli.main` and
prints phase markers so a kill can be aimed at a training batch or at the evaluation); kill
points are drawn from seeded generators, so a failure reproduces.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fault_child import N_STATES, checkpoint_states, save_loop
from shared_data import data_dirs_setting

from explore.cli import main
from explore.training.checkpoint import load_checkpoint, save_checkpoint
from explore.training.history import RunHistory

FAULT_CHILD = Path(__file__).with_name("fault_child.py")
EPOCHS = 4
TRAIN = [
    "train",
    "--method",
    "sscc",
    "--dataset",
    "salinas_a",
    "--config",
    "fast",
    "--epochs",
    str(EPOCHS),
    "--samples-per-epoch",
    "1024",  # 4 batches of 256 an epoch
    "--seed",
    "3",
    "--device",
    "cpu",
]
RESULT_FILES = ("metrics.json", "labels.npy", "history.npz", "checkpoint.pt")


class Child:
    """An `explore` process (through fault_child.py) whose stdout lines are read as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, log: Path) -> None:
        self.log = log
        environment = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "EXPLORE_DATA_DIR": data_dirs_setting(),
            **(env or {}),
        }
        with open(log, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(FAULT_CHILD), *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=environment,
            )
        self.started = time.monotonic()
        self.lines: list[tuple[float, str]] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put((time.monotonic(), line.rstrip("\n")))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 120.0) -> float:
        """Block until the line `text` is printed; its time (monotonic)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            if item is None:
                self.process.wait()
                raise AssertionError(
                    f"the run ended (status {self.process.returncode}) before {text!r}:\n"
                    + self.log.read_text()
                )
            self.lines.append(item)
            if item[1] == text:
                return item[0]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL

    def finish(self, timeout: float = 180.0) -> int:
        self.process.wait(timeout=timeout)
        while (item := self._queue.get(timeout=10)) is not None:
            self.lines.append(item)
        return self.process.returncode

    @property
    def text(self) -> list[str]:
        return [line for _, line in self.lines]

    @property
    def stderr(self) -> str:
        return self.log.read_text()


def assert_one_line_error(stderr: str, *fragments: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("explore: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _equal_states(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts / lists of tensors and plain values, compared exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            _equal_states(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _equal_states(x, y, f"{where}/{index}")
    else:
        assert a == b, (where, a, b)


def assert_same_results(run: Path, reference: Path) -> None:
    """Bitwise the same run: every epoch's losses, metrics, cluster sizes and map; the labels;
    metrics.json (but its wall time); the final model, optimiser, schedule and RNG states."""
    ours, theirs = RunHistory.load(run / "history.npz"), RunHistory.load(reference / "history.npz")
    assert len(ours) == len(theirs) == EPOCHS
    assert ours.metadata == theirs.metadata
    for a, b in zip(ours, theirs, strict=True):
        assert a.epoch == b.epoch
        assert a.losses == b.losses, a.epoch  # floats compared exactly
        assert a.metrics == b.metrics, a.epoch
        assert a.cluster_sizes == b.cluster_sizes, a.epoch
        assert a.assignments is not None and b.assignments is not None
        assert np.array_equal(a.assignments, b.assignments), a.epoch
    with np.load(run / "history.npz") as x, np.load(reference / "history.npz") as y:
        assert x["assignments"].dtype == y["assignments"].dtype
        assert np.array_equal(x["assignments"], y["assignments"])
    labels, expected = np.load(run / "labels.npy"), np.load(reference / "labels.npy")
    assert labels.dtype == expected.dtype and np.array_equal(labels, expected)
    metrics = json.loads((run / "metrics.json").read_text())
    expected_metrics = json.loads((reference / "metrics.json").read_text())
    metrics.pop("seconds"), expected_metrics.pop("seconds")
    assert metrics == expected_metrics
    state, expected_state = (
        load_checkpoint(run / "checkpoint.pt"),
        load_checkpoint(reference / "checkpoint.pt"),
    )
    for key in ("epoch", "model", "optimizer", "scheduler", "scaler", "rng", "extra"):
        _equal_states(state[key], expected_state[key], key)
    assert not list(run.glob(".*.tmp-*")), "temporary files left behind"


def checkpoint_epoch(run: Path) -> int | None:
    path = run / "checkpoint.pt"
    return int(load_checkpoint(path)["epoch"]) if path.exists() else None


Reference = namedtuple("Reference", "out batch_seconds eval_seconds seconds")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The uninterrupted run, and how long its batches and evaluations take here."""
    folder = tmp_path_factory.mktemp("reference")
    child = Child(*TRAIN, "--out", str(folder / "run"), log=folder / "stderr.txt")
    assert child.finish() == 0, child.stderr
    times: dict[str, float] = {}
    for moment, line in child.lines:
        times[line] = moment
    batches = [
        times[f"@batch {e} {b + 1}"] - times[f"@batch {e} {b}"]
        for e in range(1, EPOCHS + 1)
        for b in range(1, 4)
    ]
    evals = [times[f"@saved {e}"] - times[f"@eval {e}"] for e in range(1, EPOCHS + 1)]
    return Reference(
        folder / "run",
        float(np.median(batches)),
        float(np.median(evals)),
        time.monotonic() - child.started,
    )


# ---------------------------------------------------------------------------- kill, resume
@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_matches_the_uninterrupted_run(
    reference: Reference, tmp_path: Path
) -> None:
    rng = random.Random(9)
    out = tmp_path / "run"
    args = [*TRAIN, "--out", str(out)]
    log = tmp_path / "stderr.txt"
    kills: list[str] = []

    def kill_at(child: Child, marker: str, longest: float) -> None:
        child.wait_for(marker)
        delay = rng.uniform(0.0, longest)
        time.sleep(delay)
        child.kill()
        kills.append(f"{marker} + {delay * 1000:.0f} ms")

    # 1. During the first epoch's training: no checkpoint yet, so --resume is refused.
    child = Child(*args, log=log)
    kill_at(child, f"@batch 1 {rng.randint(1, 4)}", 0.6 * reference.batch_seconds)
    assert checkpoint_epoch(out) is None
    refused = Child(*args, "--resume", log=log)
    assert refused.finish() == 2
    assert_one_line_error(refused.stderr, "--resume", "no checkpoint")

    # 2. A fresh start (nothing to overwrite), killed at a random batch of a later epoch.
    epoch = rng.randint(2, EPOCHS - 1)
    child = Child(*args, log=log)
    kill_at(child, f"@batch {epoch} {rng.randint(1, 4)}", 0.6 * reference.batch_seconds)
    assert checkpoint_epoch(out) == epoch - 1

    # 3. Resumed, then killed during the evaluation of a later epoch (before its checkpoint).
    child = Child(*args, "--resume", log=log)
    evaluated = rng.randint(epoch + 1, EPOCHS)
    kill_at(child, f"@eval {evaluated}", 0.5 * reference.eval_seconds)
    assert f"@saved {evaluated}" not in child.text
    assert child.text[0].endswith(f"epoch {epoch - 1} of {EPOCHS} done")
    assert child.text[1] == f"@train {epoch}"
    resumed_from = checkpoint_epoch(out)
    assert resumed_from == evaluated - 1

    # 4. Resumed to the end.
    child = Child(*args, "--resume", log=log)
    assert child.finish() == 0, child.stderr
    assert child.text[0].endswith(f"epoch {resumed_from} of {EPOCHS} done")
    assert [line for line in child.text if line.startswith("epoch ")][0].startswith(
        f"epoch {resumed_from + 1}:"
    )
    assert 0 < resumed_from < EPOCHS
    assert_same_results(out, reference.out)
    print(
        f"\nbatch {reference.batch_seconds * 1000:.0f} ms, evaluation "
        f"{reference.eval_seconds * 1000:.0f} ms, run {reference.seconds:.1f} s; kills at "
        f"{kills}; resumed from epochs {epoch - 1} and {resumed_from}"
    )


@pytest.mark.slow
def test_file_size_limit_mid_run_keeps_the_last_checkpoint(
    reference: Reference, tmp_path: Path
) -> None:
    """A real EFBIG (RLIMIT_FSIZE set after the second checkpoint): one-line error naming the
    last good checkpoint, which is intact; nothing partial left; resuming finishes the run."""
    out = tmp_path / "run"
    args = [*TRAIN, "--out", str(out)]
    child = Child(*args, env={"FAULT_FSIZE_AFTER_SAVES": "2"}, log=tmp_path / "stderr.txt")
    assert child.finish() == 2
    assert_one_line_error(
        child.stderr,
        "epoch 3 checkpoint",
        str(out / "checkpoint.pt"),
        "File too large",
        "last good checkpoint (epoch 2) is kept",
        "nothing partial",
    )
    assert sorted(path.name for path in out.iterdir()) == ["checkpoint.pt"]
    assert checkpoint_epoch(out) == 2

    resumed = Child(*args, "--resume", log=tmp_path / "stderr.txt")
    assert resumed.finish() == 0, resumed.stderr
    assert_same_results(out, reference.out)


@pytest.mark.slow
def test_space_estimates_bound_the_real_outputs(reference: Reference) -> None:
    """What the trainer reserves before epoch 1 covers the checkpoint and history the run
    wrote, without asking for much more."""
    from explore.data.registry import load_dataset
    from explore.methods.sscc import SSCC

    data = load_dataset("salinas_a")
    method = SSCC(
        n_clusters=data.n_classes,
        config="fast",
        epochs=EPOCHS,
        samples_per_epoch=1024,
        seed=3,
        device="cpu",
    )
    trainer = method.make_trainer(data)
    checkpoint = (reference.out / "checkpoint.pt").stat().st_size
    assert checkpoint <= trainer.estimated_checkpoint_bytes() <= 1.1 * checkpoint + (128 << 10)
    assert (reference.out / "history.npz").stat().st_size <= trainer.estimated_history_bytes()


# ---------------------------------------------------------------------------- atomic saves
def test_checkpoint_saves_killed_at_random_moments_leave_a_whole_checkpoint(
    tmp_path: Path,
) -> None:
    """A process saves states of 4 MB in a loop to one path and is SIGKILLed at random moments:
    the path always holds one complete state (or nothing before the first save); the temporary
    file a kill leaves is removed by the next save, a live process's is left alone."""
    states = checkpoint_states()
    path = tmp_path / "checkpoint.pt"
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "explore.training.checkpoint", "fault_child"])
    rng = random.Random(26)
    mid_save, seen = 0, set()
    existed = False
    process = None
    for _ in range(25):
        ready = context.Event()
        process = context.Process(target=save_loop, args=(str(path), ready), daemon=True)
        process.start()
        assert ready.wait(60)
        time.sleep(rng.uniform(0.005, 0.12))
        process.kill()
        process.join(30)
        assert process.exitcode == -signal.SIGKILL
        # Only the process just killed may have left a temporary file: this process's first
        # save removed the one its predecessor left.
        temporaries = [p.name for p in tmp_path.glob(".checkpoint.pt.tmp-*")]
        assert temporaries in ([], [f".checkpoint.pt.tmp-{process.pid}"])
        mid_save += bool(temporaries)
        if not path.exists():
            assert not existed, "a complete checkpoint disappeared"
            continue
        existed = True
        state = load_checkpoint(path)
        assert set(state) == {"format", "index", "weights"}
        assert torch.equal(state["weights"], states[state["index"]]["weights"])
        seen.add(state["index"])
    assert existed and mid_save >= 5, (mid_save, seen)

    # A live process's temporary file is kept; a dead one's is removed by the next save.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f".checkpoint.pt.tmp-{sleeper.pid}"
        live.write_bytes(b"being written")
        dead = tmp_path / f".checkpoint.pt.tmp-{process.pid}"
        dead.write_bytes(b"left by a kill")
        save_checkpoint(path, states[0])
        assert live.read_bytes() == b"being written"
        assert not dead.exists()
        assert load_checkpoint(path)["index"] == 0
    finally:
        sleeper.kill()
        sleeper.wait()
    print(f"\n25 kills, {mid_save} during a save, states seen {sorted(seen)} of {N_STATES}")


# ---------------------------------------------------------------------------- output folders
def _commands(out: Path, run: Path) -> dict[str, list[str]]:
    return {
        "kmeans": ["train", "--method", "kmeans", "--dataset", "salinas_a", "--out", str(out)],
        "sscc": [
            *TRAIN[:8],
            "1",
            "--samples-per-epoch",
            "512",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        "predict": [
            "predict",
            "--run",
            str(run),
            "--dataset",
            "salinas_a",
            "--device",
            "cpu",
            "--out",
            str(out / "map.npy"),
        ],
        "transfer": [
            "transfer",
            "--target",
            "digits",
            "--extractor",
            "pixels",
            "--umap-components",
            "0",
            "--out",
            str(out),
        ],
    }


COMMANDS = ["kmeans", "sscc", "predict", "transfer"]


def _refuse_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading data or a model fails the test: the folder must be checked before."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("work started before the --out folder was checked")

    import explore.data.registry
    import explore.training.checkpoint
    import explore.transfer.extractors

    for module, name in [
        (explore.data.registry, "load_dataset"),
        (explore.data.registry, "load_images"),
        (explore.transfer.extractors, "resolve_extractor"),
        (explore.training.checkpoint, "load_checkpoint"),
    ]:
        monkeypatch.setattr(module, name, refuse)


def _unwritable_places(tmp_path: Path) -> list[tuple[str, Path]]:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    places = [("under a file", blocker / "out"), ("under /proc", Path("/proc/explore-out"))]
    if os.geteuid() != 0:  # root writes through permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        places.append(("read-only folder", locked / "out"))
    return places


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_out_is_one_line_before_any_work(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"never read")
    _refuse_work(monkeypatch)
    for _, out in _unwritable_places(tmp_path):
        assert main(_commands(out, run)[command]) == 2
        assert_one_line_error(capsys.readouterr().err, "--out", "not writable", str(out))
        assert not out.exists()


FakeUsage = namedtuple("FakeUsage", "total used free")


@pytest.mark.parametrize("command", COMMANDS)
def test_no_free_space_is_one_line_before_training(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """shutil.disk_usage says 10,000 bytes free: every command stops before its work with one
    line naming the folder, the bytes needed and free, and writes nothing."""
    run = tmp_path / "run"
    if command == "predict":  # a real run to predict with
        assert main([*_commands(run, run)["sscc"]]) == 0
        capsys.readouterr()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: FakeUsage(10**12, 10**12, 10_000))
    out = tmp_path / "out"
    assert main(_commands(out, run)[command]) == 2
    line = assert_one_line_error(
        capsys.readouterr().err,
        "not enough space in",
        str(out),
        "needed",
        "10,000 bytes (9.8 KiB) free",
    )
    needed = int(line.split("about ")[1].split(" bytes")[0].replace(",", ""))
    assert needed > 10_000
    if command == "sscc":  # checked by the trainer, which counts its checkpoints
        assert "epochs of checkpoints" in line
    assert list(out.iterdir()) == []
