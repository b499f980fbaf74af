"""How many CPU threads the numeric libraries use, decided in one place.

Two decisions, both measured on this project's 2-core machines (`benchmarks/threads.py`):

- `limit_threads`: one BLAS / OpenMP thread for scikit-learn's and scipy's calls on machines
  with <= 2 cores (k-means on Indian Pines: 0.55 s limited vs 1.4-1.7 s unlimited with one core
  busy elsewhere; about the same when idle).
- `training_threads`: torch's intra-op threads while a model trains or predicts. With every
  core busy elsewhere, torch's default (one thread per core) oversubscribes the machine and
  each OpenMP barrier waits for a descheduled thread; one thread per *free* core avoids it.
  The count is the cores this process may use minus the other work running (the 1-minute load
  average), at least one.

The user's choice wins: `EXPLORE_THREADS` or `OMP_NUM_THREADS` in the environment, or a
`torch.set_num_threads(n)` call made after `explore` was imported.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

import torch
from threadpoolctl import threadpool_limits

__all__ = ["available_cores", "limit_threads", "threads_for_training", "training_threads"]

THREADS_ENV = "EXPLORE_THREADS"
_TORCH_THREADS_AT_IMPORT = torch.get_num_threads()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads() -> Iterator[None]:
    """One BLAS / OpenMP thread for the calls inside, on machines with <= 2 cores."""
    if available_cores() <= 2:
        with threadpool_limits(1):
            yield
    else:
        yield


def _configured_threads() -> int | None:
    """The thread count the environment asks for (EXPLORE_THREADS, then OMP_NUM_THREADS)."""
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                continue
    return None


def threads_for_training() -> int:
    """torch intra-op threads for training here and now: the user's choice when made (see the
    module docstring), else one per core not busy with other work (`available_cores()` minus
    the rounded 1-minute load average), at least 1."""
    configured = _configured_threads()
    if configured is not None:
        return configured
    if torch.get_num_threads() != _TORCH_THREADS_AT_IMPORT:
        return torch.get_num_threads()
    cores = available_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores, cores - math.floor(busy + 0.5)))


@contextlib.contextmanager
def training_threads(threads: int | None = None) -> Iterator[int]:
    """Run the block with `threads` torch intra-op threads (default `threads_for_training()`),
    then restore the previous count. Yields the count used."""
    count = threads_for_training() if threads is None else max(1, int(threads))
    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
