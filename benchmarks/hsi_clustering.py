"""Benchmark: k-means vs SSCC (paper and fast configs) on hyperspectral scenes.

Prints a table of ACC / NMI / ARI / kappa (mean ± std over seeds, labelled pixels only, the
last epoch's map: no epoch is chosen by ground truth), training seconds, seconds per epoch and
peak resident memory. Each run is a fresh process, so its peak memory is its own.

    python benchmarks/hsi_clustering.py                       # salinas_a, samson, indian_pines
    python benchmarks/hsi_clustering.py --datasets salinas_a path/to/scene.mat --seeds 0 1 2
    python benchmarks/hsi_clustering.py --methods sscc-fast --budget 600 --json results.json

`--budget S` stops a deep run at the first epoch end after S seconds of training (the table
says how many epochs ran).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

METHODS = ("kmeans", "sscc-paper", "sscc-fast")
DATASETS = ("salinas_a", "samson", "indian_pines")
SCORES = ("acc", "nmi", "ari", "kappa")


def run_one(method: str, dataset: str, seed: int, budget: float, epochs: int | None) -> dict:
    """One run in a fresh process: scores, seconds, epochs and peak memory (MiB)."""
    import torch

    from explore.data.registry import load_scene
    from explore.methods.kmeans import KMeansClustering
    from explore.methods.sscc import SSCC
    from explore.metrics import score_scene

    scene = load_scene(dataset, download=False)
    started = time.perf_counter()
    n_epochs = 0
    if method == "kmeans":
        labels = KMeansClustering(n_clusters=scene.n_classes, seed=seed).fit(scene).labels_
    else:
        config = method.split("-", 1)[1]
        overrides = {"epochs": epochs} if epochs else {}
        model = SSCC(n_clusters=scene.n_classes, config=config, seed=seed, **overrides)
        trainer = model.make_trainer(scene)

        def stop_when_over_budget(record: Any) -> None:
            if time.perf_counter() - started > budget:
                trainer.request_stop()

        trainer.callbacks.append(stop_when_over_budget)
        trainer.fit()
        n_epochs = trainer.epoch
        labels = trainer.history.last.assignments
    seconds = time.perf_counter() - started
    scores = score_scene(scene.labels, labels).as_dict()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "dataset": scene.name if dataset in DATASETS else dataset,
        "seed": seed,
        "seconds": seconds,
        "epochs": n_epochs,
        "seconds_per_epoch": seconds / n_epochs if n_epochs else None,
        "peak_mib": peak_mib,
        "threads": torch.get_num_threads(),
        **{key: scores[key] for key in SCORES},
    }


def summarise(runs: list[dict]) -> list[dict]:
    from explore.metrics import format_mean_std, mean_std

    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["method"]), []).append(run)
    rows = []
    for (dataset, method), group in groups.items():
        row = {"dataset": dataset, "method": method, "seeds": len(group)}
        for key in SCORES:
            row[key] = format_mean_std(*mean_std([r[key] for r in group]))
        row["train s"] = f"{mean_std([r['seconds'] for r in group])[0]:.1f}"
        epochs = [r["epochs"] for r in group]
        row["epochs"] = (
            str(min(epochs)) if min(epochs) == max(epochs) else f"{min(epochs)}-{max(epochs)}"
        )
        per_epoch = [r["seconds_per_epoch"] for r in group if r["seconds_per_epoch"]]
        row["s / epoch"] = f"{sum(per_epoch) / len(per_epoch):.1f}" if per_epoch else "-"
        row["peak MiB"] = f"{max(r['peak_mib'] for r in group):.0f}"
        rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per run")
    parser.add_argument("--epochs", type=int, default=None, help="override the configs' epochs")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    runs = []
    for dataset in args.datasets:
        for method in args.methods:
            for seed in args.seeds:
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    run = pool.submit(run_one, method, dataset, seed, args.budget, args.epochs)
                    result = run.result()
                runs.append(result)
                print(
                    f"{dataset} {method} seed {seed}: ACC {result['acc']:.3f} "
                    f"NMI {result['nmi']:.3f} ({result['seconds']:.0f} s, "
                    f"{result['epochs']} epochs)",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{multiprocessing.cpu_count()} cores, python {platform.python_version()}"
    )
    print(markdown_table(summarise(runs)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(runs, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
