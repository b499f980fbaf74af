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
import sys
import time

from common import run_grid, train_with_budget

METHODS = ("kmeans", "sscc-paper", "sscc-fast")
DATASETS = ("salinas_a", "samson", "indian_pines")
SCORES = ("acc", "nmi", "ari", "kappa")


def run_one(method: str, dataset: str, seed: int, budget: float, epochs: int | None) -> dict:
    """One run: scores, seconds and epochs (peak memory is added by `in_fresh_process`)."""
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
        overrides = {"epochs": epochs} if epochs else {}
        config = method.split("-", 1)[1]
        model = SSCC(n_clusters=scene.n_classes, config=config, seed=seed, **overrides)
        labels, n_epochs = train_with_budget(model, scene, budget)
    scores = score_scene(scene.labels, labels).as_dict()
    return {
        "method": method,
        "dataset": scene.name if dataset in DATASETS else dataset,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "epochs": n_epochs,
        **{key: scores[key] for key in SCORES},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per run")
    parser.add_argument("--epochs", type=int, default=None, help="override the configs' epochs")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    args = parser.parse_args(argv)

    run_grid(run_one, args, SCORES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
