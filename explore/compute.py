"""Where and how the numeric work runs, decided in one place: the device (`resolve_device`),
the CPU threads, and the check every feature matrix passes (`check_feature_array`).

Two decisions, both measured on this project's 2-core machines (`benchmarks/threads.py`):

- `limit_threads`: one BLAS / OpenMP thread for scikit-learn's and scipy's calls on machines
  with <= 2 cores (k-means on Indian Pines: 0.55 s limited vs 1.4-1.7 s unlimited with one core
  busy elsewhere; about the same when idle).
- `training_threads`: torch's intra-op threads while a model trains. With every core busy
  elsewhere, torch's default (one thread per core) oversubscribes the machine and each OpenMP
  barrier waits for a descheduled thread: SSCC epochs on Salinas-A took 2.33 s with two threads
  beside one busy process against 0.75 s with one, while on a quiet machine two threads took
  0.54 s against 0.81 s (`benchmarks/threads.py`, 2 cores). So the count is the cores this
  process may use minus the cores busy with other work, at least one. "Busy" is measured over
  a tenth of a second from the kernel's CPU counters (`/proc/stat`, Linux), while this thread
  sleeps, so neither this training nor past work counts (the 1-minute load average, used where
  `/proc/stat` is missing, lags by a minute and counts both).

The user's choice wins: `EXPLORE_THREADS` or `OMP_NUM_THREADS` in the environment, or a
`torch.set_num_threads(n)` call made after `explore` was imported.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from explore.errors import DataError

__all__ = [
    "available_cores",
    "busy_cores",
    "limit_threads",
    "threads_for_training",
    "training_threads",
]

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


_BUSY_WINDOW_SECONDS = 0.1
_BUSY_MEMORY_SECONDS = 5.0  # a measurement is reused this long (many short fits in a row)
_last_busy: tuple[float, float] | None = None  # (monotonic time, busy cores)


def _cpu_counters() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None where it is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_cores() -> float:
    """Cores busy with other work now: the machine's CPU use over a tenth of a second while this
    thread sleeps (Linux), else the 1-minute load average. Reused for a few seconds."""
    global _last_busy
    now = time.monotonic()
    if _last_busy is not None and now - _last_busy[0] < _BUSY_MEMORY_SECONDS:
        return _last_busy[1]
    before = _cpu_counters()
    if before is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            busy = 0.0
    else:
        time.sleep(_BUSY_WINDOW_SECONDS)
        after = _cpu_counters() or before
        total = after[1] - before[1]
        share = (after[0] - before[0]) / total if total > 0 else 0.0
        busy = share * (os.cpu_count() or 1)
    _last_busy = (time.monotonic(), busy)
    return busy


def threads_for_training() -> int:
    """torch intra-op threads for training here and now: the user's choice when made (see the
    module docstring), else one per core not busy with other work (`available_cores()` minus
    the rounded `busy_cores()`), at least 1."""
    configured = _configured_threads()
    if configured is not None:
        return configured
    if torch.get_num_threads() != _TORCH_THREADS_AT_IMPORT:
        return torch.get_num_threads()
    cores = available_cores()
    return max(1, min(cores, cores - math.floor(busy_cores() + 0.5)))


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


# ---------------------------------------------------------------------------- devices, arrays
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` -> CUDA when present, else CPU; anything else as torch understands it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise DataError(f"unknown device {device!r}: {error}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DataError(f"device {device!r} asked for, but no CUDA GPU is available")
    return resolved


def check_feature_array(data: np.ndarray) -> np.ndarray:
    """(n_samples, n_features) finite float32 matrix, or DataError naming `data`."""
    array = np.asarray(data)
    if array.ndim != 2:
        raise DataError(
            f"data must be a Scene or a (n_samples, n_features) array; got shape {array.shape}"
        )
    if min(array.shape) == 0:
        raise DataError(f"data is empty: shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise DataError(f"data must be a real numeric array; got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise DataError(f"data holds {int((~np.isfinite(array)).sum())} NaN or Inf values")
    return array
