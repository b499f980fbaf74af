"""Benchmark: k-means on pixels vs CC, SACC and S3OCNet on image sets (and on Salinas-A patches).

Prints ACC / NMI / ARI (mean ± std over seeds; the last epoch's assignment, no epoch chosen by
labels), training seconds, epochs, seconds per epoch and peak resident memory (each run is a
fresh process), every deep method beside k-means measured in the same run.

    python benchmarks/image_clustering.py --jobs 2                # every set, every method
    python benchmarks/image_clustering.py --datasets digits --methods kmeans sacc
    python benchmarks/image_clustering.py --datasets mnist_test --methods sacc --budget 300

Deep methods run as a user gets them: the "fast" config with nothing else given (on image sets
its epochs fitted to the 12-minute default budget, `DEFAULT_IMAGE_BUDGET`, so mnist_test-sized
sets finish in a class slot and small sets train all 30 epochs). `--epochs N` and `--budget S`
pass `epochs` / `budget` to every deep method, as `explore train` does. A dataset name ending in
`:grey` is that set converted to one channel (e.g. `cifar10_subset:grey`, grey photographs: a
set the single-channel defaults were not tuned on).
"""

from __future__ import annotations

import argparse
import sys
import time

from common import run_grid

METHODS = ("kmeans", "cc", "sacc", "s3ocnet")
DATASETS = ("mnist_test", "digits", "cifar10_subset")
SCORES = ("acc", "nmi", "ari")


def load(dataset: str):
    """The named set; `name:grey` is that image set converted to one channel."""
    from explore.data.registry import load_dataset

    name, _, variant = dataset.partition(":")
    data = load_dataset(name, download=False)
    if variant == "grey":
        return data.to_grayscale()
    if variant:
        raise SystemExit(f"unknown dataset variant {variant!r} in {dataset!r} (known: grey)")
    return data


def run_one(method: str, dataset: str, seed: int, budget: float | None, epochs: int | None) -> dict:
    """One run: scores, seconds and epochs (peak memory is added by `in_fresh_process`)."""
    from explore.data.scene import Scene
    from explore.methods import get_method_class
    from explore.methods.kmeans import KMeansClustering
    from explore.metrics import evaluate, score_scene

    data = load(dataset)
    started = time.perf_counter()
    n_epochs = 0
    if method == "kmeans":
        model = KMeansClustering(n_clusters=data.n_classes, seed=seed)
        labels = model.fit(data).labels_
    else:
        given = {"epochs": epochs, "budget": budget}
        model = get_method_class(method)(
            n_clusters=data.n_classes,
            seed=seed,
            device="cpu",
            progress=False,
            **{key: value for key, value in given.items() if value},
        )
        labels = model.fit(data).labels_
        n_epochs = model.trainer_.epoch
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
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds of training per deep run (default: the library's)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="epochs per deep run")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (0: chosen by the load)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    args = parser.parse_args(argv)

    run_grid(run_one, args, SCORES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
