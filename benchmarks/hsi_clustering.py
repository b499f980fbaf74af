"""Benchmark: the anchors (k-means, spectral clustering) vs SSCC (paper and fast configs), CC,
SACC and S3OCNet on hyperspectral scenes.

Prints a table of ACC / NMI / ARI / kappa (mean ± std over seeds, labelled pixels only, the
last epoch's map: no epoch is chosen by ground truth), training seconds, seconds per epoch,
seconds per epoch spent assigning every pixel (dense: one full-image pass per tile, when the
backbone is dense-capable) and peak resident memory. Each run is a fresh process, so its peak
memory is its own.

Besides the two configs: `sscc-head` is the fast config as it was before its spatial views and
feature clusters (clusters from the head, both views of the pixel itself); `sscc-light7` that
with the backbone it had before dense inference (`light`, padded convolutions, patch path) and
`sscc-dense9` with 9 x 9 patches (docs/architecture.md and docs/hsi-quality.md). `cc`, `sacc`
and `s3ocnet` run their default config on the scenes' patches.

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

ANCHORS = ("kmeans", "spectral")
CONTRASTIVE = ("cc", "sacc", "s3ocnet")  # their default (fast) config
METHODS = (
    *ANCHORS,
    "sscc-paper",
    "sscc-fast",
    "sscc-head",
    "sscc-light7",
    "sscc-dense9",
    *CONTRASTIVE,
)
DEFAULT_METHODS = (*ANCHORS, "sscc-paper", "sscc-fast")
_HEAD = {"config": "fast", "assign": "head", "neighbour_radius": 0}
VARIANTS = {  # SSCC settings of each method name beyond its config
    # the fast config before issue 17: clusters from the head, views of the pixel itself
    "sscc-head": _HEAD,
    # the same with the former light backbone (patch path), and with 9 x 9 patches
    "sscc-light7": {**_HEAD, "backbone": "light", "patch_size": 7},
    "sscc-dense9": {**_HEAD, "backbone": "dense_light9", "patch_size": 9},
}
DATASETS = ("salinas_a", "samson", "indian_pines")
SCORES = ("acc", "nmi", "ari", "kappa")


def run_one(method: str, dataset: str, seed: int, budget: float, epochs: int | None) -> dict:
    """One run: scores, seconds and epochs (peak memory is added by `in_fresh_process`)."""
    from explore.data.registry import load_scene
    from explore.methods import get_method_class
    from explore.methods.kmeans import KMeansClustering
    from explore.methods.spectral import SpectralClustering
    from explore.methods.sscc import SSCC
    from explore.metrics import score_scene

    scene = load_scene(dataset, download=False)
    started = time.perf_counter()
    n_epochs = 0
    assign_seconds = None
    if method in ANCHORS:
        anchor = KMeansClustering if method == "kmeans" else SpectralClustering
        labels = anchor(n_clusters=scene.n_classes, seed=seed).fit(scene).labels_
    else:
        overrides = {"epochs": epochs} if epochs else {}
        if method in CONTRASTIVE:
            method_class, settings = get_method_class(method), {}
        else:
            method_class = SSCC
            settings = VARIANTS.get(method, {"config": method.split("-", 1)[1]})
        model = method_class(n_clusters=scene.n_classes, seed=seed, **settings, **overrides)
        labels, n_epochs = train_with_budget(model, scene, budget)
        evaluations = model.trainer_.assign_seconds
        assign_seconds = sum(evaluations) / len(evaluations) if evaluations else None
    scores = score_scene(scene.labels, labels).as_dict()
    return {
        "assign_seconds": assign_seconds,
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
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per run")
    parser.add_argument("--epochs", type=int, default=None, help="override the configs' epochs")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per run (0: chosen by the load)"
    )
    args = parser.parse_args(argv)

    run_grid(run_one, args, SCORES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
