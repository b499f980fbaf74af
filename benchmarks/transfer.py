"""Benchmark: transfer clustering (features -> UMAP -> Dirichlet-process mixture, K inferred)
against k-means given the true K, from a labelled source set to a target set.

Pairs: `mnist_test` -> `digits` (target resized to 28 x 28) and `cifar10_subset` ->
`rsscn7_subset` (target loaded at 32 x 32). Extractors: `pixels` (PCA 50), `backbone` (CC or
SACC pretrained on the source *without labels*, "fast" config, bounded epochs / seconds, trained
once per source and reused across seeds and invocations from `--work`), `backbone+ft` (the same,
fine-tuned on the source's labels first), `backbone+ft+bn` (then BatchNorm statistics
re-estimated on the target, AdaBN: no labels). Each (pair, extractor, seed) runs in a fresh
process, computes the target features once and clusters them twice: the transfer pipeline (K
inferred) and k-means given the true K on the same features. Target labels are used for scoring
only: no seed, epoch or setting is chosen by them (the fine-tuning learning rate was chosen on a
held-out part of the source).

    python benchmarks/transfer.py                                 # both pairs, every extractor
    python benchmarks/transfer.py --pairs digits --extractors pixels backbone+ft
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import in_fresh_process, machine_line, markdown_table, summarise, train_with_budget

# target name -> (source, target size)
PAIRS = {"digits": ("mnist_test", 28), "rsscn7_subset": ("cifar10_subset", 32)}
EXTRACTORS = ("pixels", "backbone", "backbone+ft", "backbone+ft+bn")
SCORES = ("acc", "nmi", "ari", "k")


def pretrain(source: str, method: str, epochs: int, budget: float, folder: str) -> dict:
    """Train `method` on `source` without labels (seed 0) and keep `checkpoint.pt` in `folder`:
    the last epoch's weights (epochs or budget, whichever ends first)."""
    from explore.data.registry import load_images
    from explore.methods import get_method_class

    data = load_images(source, download=False)
    model = get_method_class(method)(
        n_clusters=data.n_classes, config="fast", epochs=epochs, seed=0, device="cpu"
    )
    started = time.perf_counter()
    _, n_epochs = train_with_budget(model, data, budget)
    seconds = time.perf_counter() - started
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    model.trainer_.save_checkpoint(path / "checkpoint.pt")  # the last epoch's weights
    record = {"source": source, "method": method, "epochs": n_epochs, "seconds": seconds}
    (path / "pretrain.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def run_one(
    target: str, extractor: str, seed: int, run_dir: str | None, settings: dict[str, Any]
) -> list[dict]:
    """One (pair, extractor, seed): two rows, transfer (K inferred) and k-means (true K)."""
    from sklearn.cluster import KMeans

    from explore.compute import limit_threads
    from explore.data.registry import load_images
    from explore.methods.transfer import TransferClustering
    from explore.metrics import evaluate
    from explore.transfer.extractors import PixelExtractor, RunExtractor

    source_name, size = PAIRS[target]
    data = load_images(target, download=False, size=size)
    source = None
    finetune_epochs = settings["finetune_epochs"] if "+ft" in extractor else 0
    if finetune_epochs:
        source = load_images(source_name, download=False)
        if settings["finetune_per_class"]:
            source = source.per_class(settings["finetune_per_class"], seed=seed)
    if extractor == "pixels":
        features_from: Any = PixelExtractor(50, seed=seed)
    else:
        features_from = RunExtractor(run_dir, device="cpu")
    started = time.perf_counter()
    model = TransferClustering(
        features_from,
        finetune_epochs=finetune_epochs,
        finetune_backbone_lr=settings["finetune_backbone_lr"],
        adapt_batchnorm=extractor.endswith("+bn"),
        max_clusters=settings["max_clusters"],
        seed=seed,
    ).fit(data, source=source)
    transfer_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with limit_threads():  # k-means on the same features, as they are (no standardisation)
        kmeans = KMeans(n_clusters=data.n_classes, n_init=10, random_state=seed)
        kmeans.fit(model.features_)
    kmeans_seconds = time.perf_counter() - started + model.timings_["features"]
    kmeans_seconds += model.timings_["finetune"]
    report = model.finetune_
    rows = []
    for method, labels, seconds in (
        (f"transfer {extractor}", model.labels_, transfer_seconds),
        (f"k-means (true K) {extractor}", kmeans.labels_, kmeans_seconds),
    ):
        scores = evaluate(data.labels, labels, ignore_label=-1)
        rows.append(
            {
                "dataset": f"{source_name} -> {target}",
                "method": method,
                "seed": seed,
                "seconds": seconds,
                "epochs": finetune_epochs,
                "acc": scores.acc,
                "nmi": scores.nmi,
                "ari": scores.ari,
                "k": float(len(set(labels.tolist()))),
                "probe_before": report and report.probe_accuracy_before,
                "probe_after": report and report.probe_accuracy_after,
            }
        )
    return rows


def _rows(runs: list[dict]) -> list[dict]:
    """`common.summarise` rows, K with one decimal, fine-tuning epochs instead of epochs."""
    from explore.metrics import format_mean_std, mean_std

    rows = summarise(runs, SCORES)
    for row in rows:
        key = (row["dataset"], row["method"])
        found = [run["k"] for run in runs if (run["dataset"], run["method"]) == key]
        row["k"] = format_mean_std(*mean_std(found), digits=1)
        row["ft epochs"] = row.pop("epochs")
        row.pop("s / epoch")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--extractors", nargs="+", default=list(EXTRACTORS), choices=EXTRACTORS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pretrain", default="cc", choices=["cc", "sacc"])
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--pretrain-budget", type=float, default=900.0, help="seconds")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument(
        "--finetune-backbone-lr",
        type=float,
        default=1e-3,
        help="chosen on the source only: held-out MNIST probe 0.96 at 1e-4, 0.98 at 1e-3",
    )
    parser.add_argument(
        "--finetune-per-class", type=int, default=300, help="source images per class (0: all)"
    )
    parser.add_argument("--max-clusters", type=int, default=20)
    parser.add_argument("--work", default="runs/transfer_benchmark", help="pretrained runs")
    parser.add_argument("--json", default=None, help="also write every run to this file")
    args = parser.parse_args(argv)
    settings = {
        "finetune_epochs": args.finetune_epochs,
        "finetune_per_class": args.finetune_per_class,
        "finetune_backbone_lr": args.finetune_backbone_lr,
        "max_clusters": args.max_clusters,
    }

    runs: list[dict] = []
    pretrained: dict[str, dict] = {}
    for target in args.pairs:
        source = PAIRS[target][0]
        run_dir = None
        if any(name != "pixels" for name in args.extractors):
            run_dir = str(Path(args.work) / f"{source}_{args.pretrain}")
            record_path = Path(run_dir) / "pretrain.json"
            if record_path.is_file():
                pretrained[source] = json.loads(record_path.read_text())
            else:
                pretrained[source] = in_fresh_process(
                    pretrain,
                    source,
                    args.pretrain,
                    args.pretrain_epochs,
                    args.pretrain_budget,
                    run_dir,
                )
            done = pretrained[source]
            print(
                f"{source}: {done['method']} pretrained {done['epochs']} epochs "
                f"({done['seconds']:.0f} s) in {run_dir}",
                file=sys.stderr,
                flush=True,
            )
        for extractor in args.extractors:
            for seed in args.seeds:
                result = in_fresh_process(_run_rows, target, extractor, seed, run_dir, settings)
                for row in result["rows"]:
                    row["peak_mib"] = result["peak_mib"]
                    runs.append(row)
                    print(
                        f"{row['dataset']} {row['method']} seed {seed}: ACC {row['acc']:.3f} "
                        f"NMI {row['nmi']:.3f} K {row['k']:.0f} ({row['seconds']:.0f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    print(machine_line())
    for source, done in pretrained.items():
        print(
            f"pretraining on {source}: {done['method']}, fast config, {done['epochs']} epochs, "
            f"{done['seconds']:.0f} s (no labels)"
        )
    print(markdown_table(_rows(runs)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"pretrained": pretrained, "runs": runs}, handle, indent=2)
    return 0


def _run_rows(*args: Any) -> dict:
    """`run_one` wrapped in a dict (`in_fresh_process` adds peak memory to a dict)."""
    return {"rows": run_one(*args)}


if __name__ == "__main__":
    sys.exit(main())
