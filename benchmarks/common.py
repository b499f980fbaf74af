"""Shared parts of the benchmark scripts: one run per fresh process (so peak memory is the
run's own), grouping into mean ± std rows, and the markdown table they print."""

from __future__ import annotations

import multiprocessing
import platform
import resource
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def in_fresh_process(function: Callable[..., dict], *args: Any) -> dict:
    """Run `function(*args)` in a new interpreter; its result gets `peak_mib` added."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_with_peak_memory, function, *args).result()


def _with_peak_memory(function: Callable[..., dict], *args: Any) -> dict:
    result = function(*args)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def summarise(runs: Sequence[dict], scores: Sequence[str]) -> list[dict]:
    """One row per (dataset, method): scores as mean ± std, seconds, epochs, peak memory, and
    (when runs report `assign_seconds`: the mean per-epoch assignment of every item) seconds
    of assignment per epoch."""
    from explore.metrics import format_mean_std, mean_std

    with_assign = any("assign_seconds" in run for run in runs)
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["method"]), []).append(run)
    rows = []
    for (dataset, method), group in groups.items():
        row: dict[str, Any] = {"dataset": dataset, "method": method, "seeds": len(group)}
        for key in scores:
            row[key] = format_mean_std(*mean_std([r[key] for r in group]))
        row["train s"] = f"{mean_std([r['seconds'] for r in group])[0]:.1f}"
        epochs = [r.get("epochs", 0) for r in group]
        low, high = min(epochs), max(epochs)
        row["epochs"] = str(low) if low == high else f"{low}-{high}"
        per_epoch = [r["seconds"] / r["epochs"] for r in group if r.get("epochs")]
        row["s / epoch"] = f"{sum(per_epoch) / len(per_epoch):.1f}" if per_epoch else "-"
        if with_assign:
            assign = [r["assign_seconds"] for r in group if r.get("assign_seconds") is not None]
            row["assign s / epoch"] = f"{sum(assign) / len(assign):.3f}" if assign else "-"
        row["peak MiB"] = f"{max(r['peak_mib'] for r in group):.0f}"
        rows.append(row)
    return rows


def markdown_table(rows: Sequence[dict]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    return (
        f"machine: {platform.machine()}, {multiprocessing.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )


def train_with_budget(model: Any, data: Any, budget: float) -> tuple[Any, int]:
    """Fit a deep method, stopping at the first epoch end after `budget` seconds; returns the
    last epoch's assignments (never an epoch chosen by labels) and the epochs run."""
    import time

    started = time.perf_counter()
    trainer = model.make_trainer(data)

    def stop_when_over_budget(record: Any) -> None:
        if time.perf_counter() - started > budget:
            trainer.request_stop()

    trainer.callbacks.append(stop_when_over_budget)
    trainer.fit()
    return trainer.history.last.assignments, trainer.epoch


def run_grid(run_one: Callable[..., dict], args: Any, scores: Sequence[str]) -> list[dict]:
    """Every (dataset, method, seed) of `args` in a fresh process, a line per run on stderr,
    then the machine line and the table on stdout; `args.json` also gets every run.

    `args.threads` (when given) fixes torch's training threads of every run (`EXPLORE_THREADS`):
    seeded results change with the thread count, so a table is reproducible only with it fixed
    (without it, `explore.compute.training_threads` picks 1 or 2 by the load at each start).
    `args.jobs` (default 1) runs that many at a time; budgeted runs then share the CPU, which
    the machine line says."""
    import json
    import os
    import sys
    from concurrent.futures import ThreadPoolExecutor

    threads = getattr(args, "threads", None)
    if threads:
        os.environ["EXPLORE_THREADS"] = str(threads)  # inherited by every run's process
    jobs = max(1, int(getattr(args, "jobs", 1) or 1))
    grid = [
        (method, dataset, seed)
        for dataset in args.datasets
        for method in args.methods
        for seed in args.seeds
    ]

    def run(cell: tuple[str, str, int]) -> dict:
        method, dataset, seed = cell
        result = in_fresh_process(run_one, method, dataset, seed, args.budget, args.epochs)
        print(
            f"{dataset} {method} seed {seed}: ACC {result['acc']:.3f} "
            f"NMI {result['nmi']:.3f} ({result['seconds']:.0f} s, "
            f"{result['epochs']} epochs)",
            file=sys.stderr,
            flush=True,
        )
        return result

    with ThreadPoolExecutor(jobs) as pool:
        runs = list(pool.map(run, grid))
    line = machine_line() + (f", {threads} training thread(s) per run" if threads else "")
    print(line + (f", {jobs} runs at a time" if jobs > 1 else ""))
    print(markdown_table(summarise(runs, scores)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(runs, handle, indent=2)
    return runs
