"""`explore train`, `explore predict` and `explore transfer`: runs through `explore.runs`, maps
of trained runs (sharded across torchrun processes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from explore.cli.common import UsageError, prepare_output_dir
from explore.methods import SHALLOW_METHODS
from explore.runs import (
    DEEP_RUN_FILES,
    METRICS_BYTES,
    RUN_FILES,
    SHALLOW_COMPONENTS,
    build_method,
    check_output_space,
    fit_run,
    labels_bytes,
    write_npy,
)


def _cluster_count(args: argparse.Namespace, n_classes: int) -> int:
    if args.clusters is not None and args.clusters < 2:
        raise UsageError(f"--clusters must be at least 2; got {args.clusters}")
    n_clusters = args.clusters or n_classes
    if not n_clusters:
        raise UsageError(f"{args.dataset} has no labels to take K from: pass --clusters K")
    return n_clusters


def _build_method(args: argparse.Namespace, data: Any, **options: Any) -> Any:
    """`--method` for the loaded dataset: K from `--clusters` (else its classes), `--seed`, and
    `options` (`build_method`'s)."""
    n_clusters = _cluster_count(args, data.n_classes)
    return build_method(args.method, data, n_clusters=n_clusters, seed=args.seed, **options)


def _report(run: Any, out: Path) -> None:
    """One line: what ran, K, seconds, the scores and where the run was written."""
    summary = f"{run.name} on {run.dataset}: K={run.method.n_clusters}, {run.seconds:.1f} s"
    if run.scores is not None:
        scores = run.scores
        summary += f", ACC {scores.acc:.3f}, NMI {scores.nmi:.3f}, ARI {scores.ari:.3f}"
    print(f"{summary} -> {out}")


def _cmd_train(args: argparse.Namespace) -> int:
    if args.method in SHALLOW_METHODS:
        return _train_shallow(args)
    return _train_deep(args)


def _default_out(args: argparse.Namespace) -> Path:
    return Path(args.out or f"runs/{Path(args.dataset).stem}_{args.method}_seed{args.seed}")


def _train_shallow(args: argparse.Namespace) -> int:
    """k-means or spectral clustering: one fit, metrics and labels written (`explore.runs`)."""
    from explore.data.registry import load_dataset

    if args.resume:
        raise UsageError(f"--resume applies to deep methods; {args.method} has nothing to resume")
    deep_only = {
        "--epochs": args.epochs,
        "--samples-per-epoch": args.samples_per_epoch,
        "--budget": args.budget,
        "--scan-epochs": args.scan_epochs,
        "--config": args.config,
        "--device": args.device,
    }
    given = [option for option, value in deep_only.items() if value is not None]
    if given:
        raise UsageError(
            f"{', '.join(given)} applies to deep methods, not to --method {args.method}"
        )
    if args.components is None:
        args.components = SHALLOW_COMPONENTS[args.method]
    out = prepare_output_dir(_default_out(args), RUN_FILES, overwrite=args.overwrite)
    data = load_dataset(args.dataset)
    model = _build_method(args, data, components=args.components, smoothing=args.smoothing)
    run = fit_run(args.method, model, data, dataset=args.dataset, out=out)
    _report(run, out)
    return 0


def _train_deep(args: argparse.Namespace) -> int:
    if args.smoothing is not None:
        raise UsageError("--smoothing applies to --method kmeans and spectral only")
    if args.components is not None:
        raise UsageError("--components applies to --method kmeans and spectral only")
    args.config = args.config or "fast"
    args.device = args.device or "auto"
    if args.samples_per_epoch is not None and args.samples_per_epoch < 2:
        raise UsageError(f"--samples-per-epoch must be at least 2; got {args.samples_per_epoch}")
    if args.budget is not None and args.budget <= 0:
        raise UsageError(f"--budget must be a positive number of seconds; got {args.budget}")
    if args.scan_epochs is not None and args.scan_epochs < 0:
        raise UsageError(f"--scan-epochs must be 0 or more; got {args.scan_epochs}")
    return _in_each_process(_train_deep_in_process, args)


def _train_deep_in_process(args: argparse.Namespace, is_main: bool) -> int:
    """Train a deep method (`explore.runs`); across processes every process trains and only
    rank 0 (`is_main`) prints and writes metrics, labels and history (the trainer writes the
    checkpoint)."""
    from explore.data.registry import load_dataset
    from explore.methods import get_method_class

    out = _default_out(args)
    checkpoint = out / "checkpoint.pt"
    if args.resume:
        if not checkpoint.is_file():
            raise UsageError(f"--resume: no checkpoint at {checkpoint}")
        out = prepare_output_dir(out, DEEP_RUN_FILES, overwrite=True)
    else:
        out = prepare_output_dir(out, DEEP_RUN_FILES, overwrite=args.overwrite)
    data = load_dataset(args.dataset)
    overrides: dict[str, Any] = {
        "epochs": args.epochs,
        "samples_per_epoch": args.samples_per_epoch,
        "budget": args.budget,
        "scan_epochs": args.scan_epochs,
    }
    if args.resume:  # the backbone and patch size it was trained with (defaults may change)
        from explore.training.checkpoint import load_checkpoint

        saved = load_checkpoint(checkpoint)
        method_class = get_method_class(args.method)
        chosen = {key: value for key, value in overrides.items() if value is not None}
        overrides.update(method_class.saved_structure(saved, {"config": args.config, **chosen}))
    model = _build_method(
        args,
        data,
        config=args.config,
        device=args.device,
        progress=is_main and not args.quiet and sys.stderr.isatty(),
        **overrides,
    )

    def announce(record: Any) -> None:
        if args.quiet:
            return
        scores = " ".join(f"{k} {v:.3f}" for k, v in record.metrics.items())
        print(
            f"epoch {record.epoch}: loss {record.losses['loss']:.4f} {scores} "
            f"({record.seconds:.1f} s)",
            flush=True,
        )

    def announce_resume(trainer: Any) -> None:
        if args.resume and is_main:
            print(
                f"resuming from {checkpoint}: epoch {trainer.epoch} of {trainer.epochs} done",
                flush=True,
            )

    run = fit_run(
        args.method,
        model,
        data,
        dataset=args.dataset,
        out=out,
        resume=args.resume,
        callbacks=[announce],
        on_ready=announce_resume,
    )
    if is_main:
        _report(run, out)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    return _in_each_process(_predict, args)


def _in_each_process(
    work: Callable[[argparse.Namespace, bool], int], args: argparse.Namespace
) -> int:
    """`work(args, is_main)` in this process: alone, or as one of a torchrun launch (the process
    group joined on `args.device` first and left after, whatever happens)."""
    from explore.training import distributed

    process = distributed.init_from_environment(args.device)
    try:
        return work(args, process.is_main)
    finally:
        distributed.shutdown()


def _predict(args: argparse.Namespace, is_main: bool) -> int:
    """Write the map of a scene (or the labels of an image set) with a trained run. Under
    torchrun every process computes its share of the scene's tiles into the one map, which
    appears when all are written; rank 0 (`is_main`) prints, and predicts image sets alone."""
    from explore.data.registry import load_dataset
    from explore.data.scene import Scene
    from explore.methods import get_method_class
    from explore.training.checkpoint import load_checkpoint

    checkpoint = Path(args.run) / "checkpoint.pt"
    if not checkpoint.is_file():
        raise UsageError(f"--run {args.run} holds no checkpoint.pt")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UsageError(f"--out {out} exists; pass --overwrite to replace it")
    prepare_output_dir(out.parent if str(out.parent) else Path("."), [], overwrite=True)
    method_name = load_checkpoint(checkpoint).get("method", "")
    model = get_method_class(str(method_name)).from_checkpoint(checkpoint, device=args.device)
    data = load_dataset(args.dataset)  # scenes above EXPLORE_LAZY_BYTES stay on disk
    map_shape = data.shape[:2] if isinstance(data, Scene) else (data.n_images,)
    geotiff = out.suffix.lower() in (".tif", ".tiff")  # staged as a .npy, then converted
    check_output_space(
        out.parent if str(out.parent) else Path("."),
        labels_bytes(map_shape) * (2 if geotiff else 1) + METRICS_BYTES,
        f"the map {out.name}",
        [out],
    )
    if isinstance(data, Scene):
        # Tile by tile (shared by the processes), then renamed into place.
        model.predict_to_file(data, out, tile_size=args.tile_size)
        shape = " x ".join(str(v) for v in data.shape[:2])
    else:
        if out.suffix.lower() in (".tif", ".tiff"):
            raise UsageError(f"--out {out}: image sets get a .npy file of labels")
        if not is_main:
            return 0
        predicted = model.predict(data)
        write_npy(out, predicted.astype(np.int16))
        shape = " x ".join(str(v) for v in predicted.shape)
    if is_main:
        print(f"{method_name} assignments of {data.name} ({shape}) -> {out}")
    return 0


def _default_transfer_out(args: argparse.Namespace) -> Path:
    kind = args.extractor.partition(":")[0]
    return Path(args.out or f"runs/transfer_{Path(args.target).stem}_{kind}_seed{args.seed}")


def _cmd_transfer(args: argparse.Namespace) -> int:
    if args.finetune_epochs < 0:
        raise UsageError(f"--finetune-epochs must be >= 0; got {args.finetune_epochs}")
    if args.finetune_epochs and not args.source:
        raise UsageError(
            f"--finetune-epochs {args.finetune_epochs} needs a labelled --source NAME|PATH"
        )
    if args.max_clusters < 1:
        raise UsageError(f"--max-clusters must be >= 1; got {args.max_clusters}")
    if args.image_size is not None and args.image_size < 1:
        raise UsageError(f"--image-size must be >= 1; got {args.image_size}")
    if args.finetune_lr <= 0:
        raise UsageError(f"--finetune-lr must be > 0; got {args.finetune_lr}")
    if args.backbone_lr is not None and args.backbone_lr < 0:
        raise UsageError(f"--backbone-lr must be >= 0; got {args.backbone_lr}")
    if args.umap_components == 0:
        umap_options = {"--neighbors": args.neighbors, "--min-dist": args.min_dist}
        given = [option for option, value in umap_options.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)} set UMAP, which --umap-components 0 turns off")
    out = prepare_output_dir(_default_transfer_out(args), RUN_FILES, overwrite=args.overwrite)
    from explore.data.registry import load_images
    from explore.methods.transfer import TransferClustering
    from explore.transfer.extractors import resolve_extractor

    # The extractor first: a missing model or run fails before any data is read.
    extractor = resolve_extractor(
        args.extractor,
        resize=True if args.resize else None,
        channels=args.channels,
        device=args.device,
        download=args.download,
        seed=args.seed,
    )
    source = load_images(args.source, size=args.image_size) if args.finetune_epochs else None
    target = load_images(args.target, size=args.image_size)
    given = {
        "n_components": args.umap_components,
        "n_neighbors": args.neighbors,
        "min_dist": args.min_dist,
    }
    umap: dict[str, Any] | bool = {k: v for k, v in given.items() if v is not None}
    if args.umap_components == 0:
        umap = False
    finetuning = {  # the estimator's fine-tuning arguments, from the command line's options
        "finetune_epochs": args.finetune_epochs,
        "finetune_lr": args.finetune_lr,
        "finetune_backbone_lr": args.backbone_lr,
        "adapt_batchnorm": args.adapt_bn,
    }
    model = TransferClustering(
        extractor, max_clusters=args.max_clusters, umap=umap, seed=args.seed, **finetuning
    )
    run = fit_run(
        "transfer",
        model,
        target,
        dataset=args.target,
        out=out,
        source=source,
        source_name=args.source if args.finetune_epochs else None,
        settings={"image_size": args.image_size},
    )
    if args.source and not args.finetune_epochs:
        print("note: --source is only used for fine-tuning (--finetune-epochs N)")
    for note in model.adaptations_:
        print(f"note: {note}")
    summary = (
        f"transfer {args.extractor} on {args.target}: inferred K={model.n_clusters_}, "
        f"{run.seconds:.1f} s"
    )
    if run.scores is not None:
        scores = run.scores
        summary += f", ACC {scores.acc:.3f}, NMI {scores.nmi:.3f}, ARI {scores.ari:.3f}"
    print(f"{summary} -> {out}")
    return 0
