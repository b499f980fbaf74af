"""Thread decisions (`explore.compute`): the user's choice wins; otherwise one torch thread per
core not busy with other work; restored after training."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from explore import compute


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """A machine with `cores` cores, `load` of them busy elsewhere, no thread settings."""
    for name in ("EXPLORE_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(compute, "_TORCH_THREADS_AT_IMPORT", torch.get_num_threads())

    def set_machine(cores: int, load: float) -> None:
        monkeypatch.setattr(compute, "available_cores", lambda: cores)
        monkeypatch.setattr(compute, "busy_cores", lambda: load)

    return set_machine


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.2, 1), (2, 5.0, 1), (16, 3.4, 13), (1, 0.0, 1)],
)
def test_one_thread_per_free_core(machine, cores: int, load: float, expected: int) -> None:
    machine(cores, load)
    assert compute.threads_for_training() == expected


def test_the_environment_decides_when_set(machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(2, 5.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert compute.threads_for_training() == 2
    monkeypatch.setenv("EXPLORE_THREADS", "3")  # explore's own setting comes first
    assert compute.threads_for_training() == 3
    monkeypatch.setenv("EXPLORE_THREADS", "many")  # unreadable: the next setting decides
    assert compute.threads_for_training() == 2


def test_a_count_set_in_torch_after_import_is_kept(machine) -> None:
    machine(2, 0.0)
    previous = torch.get_num_threads()
    other = 1 if previous != 1 else 2
    torch.set_num_threads(other)
    try:
        assert compute.threads_for_training() == other
    finally:
        torch.set_num_threads(previous)


def test_training_threads_restores_the_count(machine) -> None:
    machine(2, 1.5)
    previous = torch.get_num_threads()
    with compute.training_threads() as used:
        assert used == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == previous
    with pytest.raises(RuntimeError), compute.training_threads(1):
        raise RuntimeError("training failed")
    assert torch.get_num_threads() == previous


def test_the_trainer_trains_with_the_chosen_count_and_restores_it(machine) -> None:
    from explore.data.images import ImageSet
    from explore.methods.cc import CC

    machine(2, 1.5)
    rng = np.random.default_rng(0)
    images = ImageSet(rng.random((64, 1, 8, 8), dtype=np.float32), rng.integers(0, 2, 64))
    seen = []
    previous = torch.get_num_threads()
    CC(n_clusters=2, epochs=2, batch_size=32, device="cpu", progress=False).fit(
        images, callbacks=[lambda record: seen.append(torch.get_num_threads())]
    )
    assert seen == [1, 1]
    assert torch.get_num_threads() == previous


def test_busy_cores_are_measured_from_the_kernel_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    counters = iter([(1_000, 10_000), (1_150, 10_200)])  # 150 of 200 jiffies busy: 75 %
    monkeypatch.setattr(compute, "_cpu_counters", lambda: next(counters))
    monkeypatch.setattr(compute, "_last_busy", None)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert compute.busy_cores() == pytest.approx(1.5)
    assert compute.busy_cores() == pytest.approx(1.5)  # reused, not measured again
    monkeypatch.setattr(compute, "_last_busy", None)
    monkeypatch.setattr(compute, "_cpu_counters", lambda: None)  # no /proc/stat
    monkeypatch.setattr(os, "getloadavg", lambda: (0.7, 0.5, 0.2))
    assert compute.busy_cores() == pytest.approx(0.7)


def test_a_busy_loop_elsewhere_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real process spinning on one core counts as about one busy core."""
    import subprocess
    import sys
    import time

    if compute._cpu_counters() is None:
        pytest.skip("no /proc/stat on this system")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        monkeypatch.setattr(compute, "_last_busy", None)
        assert compute.busy_cores() >= 0.7
    finally:
        spinner.kill()
        spinner.wait()
