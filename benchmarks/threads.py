"""Benchmark: torch's CPU threads, quiet and under load.

Seconds per training epoch with 1 thread, with one thread per core, and with explore's own
choice (`explore.compute.threads_for_training`, "auto"), on a quiet machine and while other
CPU-bound processes run beside it (`--loads 0 1 2`: how many busy loops). Each cell is a fresh
process (threads are set before torch starts its pool) that trains a few epochs; the table
shows the median epoch after the first.

    python benchmarks/threads.py                      # SSCC on salinas_a, CC on digits
    python benchmarks/threads.py --loads 0 1 --epochs 4

Run it on a machine where nothing else runs: the "busy loops" column is the CPU-bound processes
this script starts, and the 1-minute load average printed beside each row says what else was
going on (it lags: it still counts the previous row's run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

from common import machine_line, markdown_table

WORKLOADS = ("sscc/salinas_a", "cc/digits")


def _busy_loop() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


def _one_run(workload: str, threads: str, epochs: int) -> tuple[list[float], int]:
    """Seconds of each epoch of `workload` in a fresh interpreter with `threads` threads, and
    the thread count it used."""
    method, dataset = workload.split("/")
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env.pop("EXPLORE_THREADS", None)
    if threads != "auto":
        env["EXPLORE_THREADS"] = threads
    code = (
        "import sys, json\n"
        "from explore.data.registry import load_dataset\n"
        "from explore.compute import threads_for_training\n"
        "from explore.methods import get_method_class\n"
        f"data = load_dataset({dataset!r}, download=False)\n"
        "chosen = threads_for_training()\n"
        f"model = get_method_class({method!r})(n_clusters=data.n_classes, epochs={epochs},"
        f" batch_size={256 if method == 'sscc' else 128}, device='cpu', seed=0,"
        " progress=False)\n"
        "model.fit(data)\n"
        "print(json.dumps({'epochs': [r.seconds for r in model.history_.records],"
        " 'threads': chosen}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return measured["epochs"], measured["threads"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", nargs="+", default=["1", str(os.cpu_count()), "auto"])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    rows = []
    for load in args.loads:
        busy = [multiprocessing.Process(target=_busy_loop, daemon=True) for _ in range(load)]
        for process in busy:
            process.start()
        if load:
            time.sleep(2)
        try:
            for workload in args.workloads:
                for threads in args.threads:
                    load_average = os.getloadavg()[0]
                    seconds, used = _one_run(workload, threads, args.epochs)
                    rows.append(
                        {
                            "workload": workload,
                            "busy loops": load,
                            "threads": threads if threads != "auto" else f"auto ({used})",
                            "s / epoch": f"{statistics.median(seconds[1:] or seconds):.2f}",
                            "load avg before": f"{load_average:.1f}",
                        }
                    )
                    print(rows[-1], file=sys.stderr, flush=True)
        finally:
            for process in busy:
                process.terminate()
                process.join()
    print(machine_line())
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
