"""Benchmark: k-means on pixels vs CC, SACC and S3OCNet on image sets (and on Salinas-A patches).

Prints ACC / NMI / ARI (mean ± std over seeds; the last epoch's assignment, no epoch chosen by
labels), training seconds, epochs, seconds per epoch and peak resident memory (each run is a
fresh process).

    python benchmarks/image_clustering.py                         # every set, every method
    python benchmarks/image_clustering.py --datasets digits --methods kmeans sacc --budget 300
    python benchmarks/image_clustering.py --datasets salinas_a --methods cc sacc s3ocnet

Deep methods run their "fast" config with the per-dataset epochs and batch size of `SETTINGS`
(small sets take batch 128 for more steps per epoch); `--epochs N` overrides the epochs.
`--budget S` (default 900: the 15 minutes of the targets) stops a deep run at the first epoch
end after S seconds of training (what bounds `mnist_test`).
"""

from __future__ import annotations

import argparse
import sys
import time

from common import run_grid, train_with_budget

METHODS = ("kmeans", "cc", "sacc", "s3ocnet")
DATASETS = ("mnist_test", "digits", "cifar10_subset", "salinas_a")
SCORES = ("acc", "nmi", "ari")
# Per-dataset training of the deep methods: epochs (a cap; the budget may end a run sooner) and
# batch size. 1,797 digits or 1,000 CIFAR images at batch 256 give 7 or 3 steps per epoch.
SETTINGS = {
    "mnist_test": {"epochs": 200, "batch_size": 256},
    "digits": {"epochs": 50, "batch_size": 128},
    "cifar10_subset": {"epochs": 60, "batch_size": 128},
    "salinas_a": {"epochs": 30, "batch_size": 256},
}


def run_one(method: str, dataset: str, seed: int, budget: float, epochs: int | None) -> dict:
    """One run: scores, seconds and epochs (peak memory is added by `in_fresh_process`)."""
    from explore.data.registry import load_dataset
    from explore.data.scene import Scene
    from explore.methods import get_method_class
    from explore.methods.kmeans import KMeansClustering
    from explore.metrics import evaluate, score_scene

    data = load_dataset(dataset, download=False)
    started = time.perf_counter()
    n_epochs = 0
    if method == "kmeans":
        model = KMeansClustering(n_clusters=data.n_classes, seed=seed)
        labels = model.fit(data).labels_
    else:
        overrides = dict(SETTINGS.get(dataset, {}))
        if epochs:
            overrides["epochs"] = epochs
        model = get_method_class(method)(
            n_clusters=data.n_classes, config="fast", seed=seed, device="cpu", **overrides
        )
        labels, n_epochs = train_with_budget(model, data, budget)
    if isinstance(data, Scene):
        scores = score_scene(data.labels, labels).as_dict()
    else:
        scores = evaluate(data.labels, labels, ignore_label=-1).as_dict()
    return {
        "method": method,
        "dataset": dataset,
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
    parser.add_argument("--budget", type=float, default=900.0, help="seconds of training per run")
    parser.add_argument("--epochs", type=int, default=None, help="override the fast config")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (0: chosen by the load)"
    )
    args = parser.parse_args(argv)

    run_grid(run_one, args, SCORES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
