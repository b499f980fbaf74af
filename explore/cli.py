"""The `explore` command line: datasets, download, info, train, predict, transfer (same code
paths as the library).

Every error a user can cause (missing or corrupt file, unknown dataset, bad option) ends as one
line on stderr naming the problem and exit status 2, without a traceback. Nothing already in an
output folder is overwritten unless `--overwrite` is given. Before loading data, every command
checks that its output folder can be created and written; before the work, that its filesystem
has room for the estimated outputs (`OutputError` otherwise). Results are written atomically and
durably (`explore.outputs.write_atomic`).

`explore train` of a deep method runs across processes when started by `torchrun` (`torchrun
--nproc_per_node N -m explore train ...`): every process trains on its share of each batch and
only rank 0 prints and writes; `explore predict` under torchrun splits a scene's tiles between
the processes, which write into the one map. Scene files larger than `EXPLORE_LAZY_BYTES`
(1 GiB) are read lazily by `train` and `predict` (memory-mapped or by windows); `predict` always
writes its map tile by tile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from explore.errors import DataError, ExploreError, OutputError
from explore.methods import DEEP_METHODS, SHALLOW_METHODS
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

EXIT_USAGE = 2


class UsageError(ExploreError):
    """A command-line option is missing, malformed or conflicts with another."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage block) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2**32 - 1] (what numpy, scikit-learn and torch all take)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32 - 1]; got {value}")
    return value


def _device(text: str) -> str:
    """--device: auto, cpu, cuda or cuda:N (checked for its form here; for a GPU when used)."""
    if text == "auto":
        return text
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"unknown device {text!r}: use auto, cpu, cuda or cuda:N"
        ) from None
    return text


def _non_empty(problem: str) -> Callable[[str], str]:
    """An argparse type that refuses empty or blank text with `problem` as the message."""

    def check(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(problem)
        return text

    return check


_name_or_path = _non_empty("empty: give a dataset name or a file / folder path")
_path = _non_empty("empty path")


def _positive_int(text: str) -> int:
    """A whole number >= 1 (e.g. --tile-size)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


# ---------------------------------------------------------------------------- output folders
def prepare_output_dir(path: Path, files: Sequence[str], *, overwrite: bool) -> Path:
    """Create `path` if needed and check it is writable (a 4 KiB probe file is written and
    removed) before any work starts: OutputError if not.

    Refuses (UsageError) when any of `files` already exists there and `overwrite` is False, so
    a previous run's results are never lost by accident. Other files in the folder are never
    touched."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    existing = [name for name in files if (path / name).exists()]
    if existing and not overwrite:
        raise UsageError(
            f"--out {path} already holds {', '.join(existing)}; pass --overwrite to replace them"
        )
    probe = path / f".explore-write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(bytes(4096))
    except OSError as error:
        raised = OutputError(f"--out {path} is not writable: {error.strerror or error}")
        raised.errno = error.errno
        raise raised from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------- commands
def _cmd_datasets(args: argparse.Namespace) -> int:
    from explore.data.registry import availability, list_datasets

    rows = []
    for entry in list_datasets():
        shape = " x ".join(str(v) for v in entry.shape) if entry.shape else "?"
        rows.append((entry.name, entry.kind, shape, str(entry.n_classes), availability(entry.name)))
    header = ("name", "kind", "shape", "classes", "available")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    """Fetch registered datasets (checksums verified, a progress bar on a terminal); carries on
    past a dataset that fails and exits 2 when any did. `--all` skips, with a note, what has no
    published checksum unless `--allow-unverified`."""
    from explore.data.registry import REGISTRY, download, get_entry

    if args.all == bool(args.names):
        raise UsageError("name the datasets to download, or pass --all (not both)")
    entries = list(REGISTRY.values()) if args.all else [get_entry(name) for name in args.names]
    progress = sys.stderr.isatty() and not args.quiet
    failures = []
    for entry in entries:
        unverified = any(f.known_hash is None and f.urls for f in entry.files)
        if args.all and unverified and not args.allow_unverified:
            print(f"{entry.name}: skipped (no published checksum; --allow-unverified fetches it)")
            continue
        try:
            result = download(
                entry,
                folder=args.dir,
                allow_unverified=args.allow_unverified,
                progress=progress,
                announce=None
                if args.quiet
                else lambda line, name=entry.name: print(f"{name}: {line}", flush=True),
            )
        except ExploreError as error:
            failures.append(entry.name)
            print(f"explore: error: {str(error).splitlines()[0]}", file=sys.stderr, flush=True)
            continue
        verb = "already here" if result.status == "present" else "downloaded"
        print(f"{entry.name}: {verb} ({result.where})", flush=True)
    if args.dir is not None and len(failures) < len(entries):
        print(f"use them with EXPLORE_DATA_DIR={Path(args.dir).expanduser().resolve()}")
    if failures:
        print(f"explore: error: not downloaded: {', '.join(failures)}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from explore.data.registry import REGISTRY, availability

    target = args.target
    if target in REGISTRY:
        entry = REGISTRY[target]
        print(f"{entry.name} ({entry.kind}): {entry.description}")
        if entry.shape:
            print(f"  shape: {' x '.join(str(v) for v in entry.shape)}")
        print(f"  classes ({entry.n_classes}): {', '.join(entry.class_names)}")
        print(f"  available: {availability(entry.name)}")
        for data_file in entry.files:
            source = data_file.url or f"shipped in the {entry.package or 'installed'} package"
            print(f"  file {data_file.name}: {source}")
        return 0
    path = Path(target)
    if not path.exists():
        raise DataError(
            f"{target!r} is neither a dataset name (see `explore datasets`) nor an existing path"
        )
    if path.is_dir():
        from explore.data.images import read_image_folder

        images = read_image_folder(path, size=(32, 32))
        print(f"{path}: image folder, {images.n_images} images, {images.n_classes} classes")
        for name, count in zip(images.class_names, images.class_counts().values(), strict=False):
            print(f"  {name}: {count}")
        return 0
    from explore.data.readers import list_arrays, sniff_format

    kind = sniff_format(path)
    print(f"{path}: {kind}, {path.stat().st_size:,} bytes")
    if kind in {"mat5", "mat73", "npy", "npz"}:
        for key, (shape, dtype) in list_arrays(path).items():
            print(f"  {key}: {' x '.join(str(v) for v in shape)} {dtype}")
    else:
        from explore.data.readers import read_scene

        scene = read_scene(path)
        print(f"  {scene!r}")
        if scene.georeference is not None:
            print(f"  georeferenced: {_describe_georeference(scene.georeference)}")
    return 0


def _describe_georeference(georeference: Any) -> str:
    """ "WGS 84 / UTM zone 33N, pixel 30 x 30, origin (500000, 4100000)" for `explore info`."""
    a, b, c, d, e, f = georeference.transform
    crs = georeference.crs or "no CRS"
    name = re.match(r'\s*\w+\[\s*"([^"]*)"', crs)
    pixel = f"pixel {abs(a):g} x {abs(e):g}" + (" (rotated)" if b or d else "")
    return f"{name.group(1) if name else crs[:60]}, {pixel}, origin ({c:.12g}, {f:.12g})"


def _cluster_count(args: argparse.Namespace, n_classes: int) -> int:
    if args.clusters is not None and args.clusters < 2:
        raise UsageError(f"--clusters must be at least 2; got {args.clusters}")
    n_clusters = args.clusters or n_classes
    if not n_clusters:
        raise UsageError(f"{args.dataset} has no labels to take K from: pass --clusters K")
    return n_clusters


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
    model = build_method(
        args.method,
        data,
        n_clusters=_cluster_count(args, data.n_classes),
        seed=args.seed,
        components=args.components,
        smoothing=args.smoothing,
    )
    run = fit_run(args.method, model, data, dataset=args.dataset, out=out)
    _report(run, out)
    return 0


def _train_deep(args: argparse.Namespace) -> int:
    from explore.training import distributed

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
    process = distributed.init_from_environment(args.device)
    try:
        return _train_deep_in_process(args, process.is_main)
    finally:
        distributed.shutdown()


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
    }
    if args.resume:  # the backbone and patch size it was trained with (defaults may change)
        from explore.training.checkpoint import load_checkpoint

        saved = load_checkpoint(checkpoint)
        method_class = get_method_class(args.method)
        chosen = {key: value for key, value in overrides.items() if value is not None}
        overrides.update(method_class.saved_structure(saved, {"config": args.config, **chosen}))
    model = build_method(
        args.method,
        data,
        n_clusters=_cluster_count(args, data.n_classes),
        config=args.config,
        device=args.device,
        seed=args.seed,
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
    from explore.training import distributed

    process = distributed.init_from_environment(args.device)
    try:
        return _predict(args, process.is_main)
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
    from explore.features import resolve_extractor
    from explore.methods.transfer import TransferClustering

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
    model = TransferClustering(
        extractor,
        finetune_epochs=args.finetune_epochs,
        finetune_lr=args.finetune_lr,
        finetune_backbone_lr=args.backbone_lr,
        adapt_batchnorm=args.adapt_bn,
        max_clusters=args.max_clusters,
        umap=umap,
        seed=args.seed,
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


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="explore", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    datasets = commands.add_parser("datasets", help="list the benchmark datasets")
    datasets.set_defaults(handler=_cmd_datasets)

    fetch = commands.add_parser(
        "download",
        help="fetch registered datasets into the download cache (or a folder), checksum verified",
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="datasets (see `explore datasets`)")
    fetch.add_argument("--all", action="store_true", help="every registered dataset")
    fetch.add_argument(
        "--dir",
        default=None,
        metavar="FOLDER",
        type=_path,
        help="download into FOLDER/NAME/ instead of the cache (use it as EXPLORE_DATA_DIR)",
    )
    fetch.add_argument(
        "--allow-unverified",
        action="store_true",
        help="also fetch files that have no published checksum",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(handler=_cmd_download)

    info = commands.add_parser("info", help="what a file, folder or dataset holds")
    info.add_argument("target", metavar="PATH|NAME", type=_name_or_path)
    info.set_defaults(handler=_cmd_info)

    train = commands.add_parser("train", help="cluster a dataset and write metrics and labels")
    train.add_argument("--method", required=True, choices=[*SHALLOW_METHODS, *DEEP_METHODS])
    train.add_argument("--dataset", required=True, metavar="NAME|PATH", type=_name_or_path)
    train.add_argument("--clusters", type=int, default=None, metavar="K")
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument(
        "--components",
        type=int,
        default=None,
        help="PCA components (k-means: default 30; spectral: default 10)",
    )
    train.add_argument(
        "--smoothing",
        type=_finite,
        default=None,
        metavar="SIGMA",
        help="k-means or spectral on spatially smoothed components: Gaussian sigma in pixels",
    )
    train.add_argument("--epochs", type=int, default=None, help="deep methods: epochs")
    train.add_argument(
        "--config", default=None, choices=["paper", "fast"], help="deep methods (default fast)"
    )
    train.add_argument(
        "--device", default=None, type=_device, help="deep methods: auto (default), cpu, cuda:1"
    )
    train.add_argument(
        "--samples-per-epoch",
        type=int,
        default=None,
        metavar="N",
        help="deep methods: an epoch is N random items (large scenes; default every item, "
        "at most 1,048,576)",
    )
    train.add_argument(
        "--budget",
        type=_finite,
        default=None,
        metavar="SECONDS",
        help="deep methods: train at most this long; the epochs (and the schedule) are fitted "
        "to it after the first epoch",
    )
    train.add_argument("--out", default=None, metavar="DIR", type=_path)
    train.add_argument("--overwrite", action="store_true", help="replace results in --out")
    train.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    train.add_argument(
        "--quiet",
        action="store_true",
        help="deep methods: no progress bar (drawn on a terminal) and no line per epoch",
    )
    train.set_defaults(handler=_cmd_train)

    predict = commands.add_parser("predict", help="cluster a scene with a trained run")
    predict.add_argument(
        "--run",
        "--run-dir",
        dest="run",
        required=True,
        metavar="DIR",
        type=_path,
        help="the --out folder of an explore train run (under torchrun, spell it --run-dir: "
        "torchrun's own parser reads --run as its --run-path)",
    )
    predict.add_argument("--dataset", required=True, metavar="NAME|PATH", type=_name_or_path)
    predict.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        type=_path,
        help=".npy map, or .tif / .tiff (GeoTIFF)",
    )
    predict.add_argument("--device", default="auto", type=_device)
    predict.add_argument(
        "--tile-size",
        type=_positive_int,
        default=None,
        metavar="PX",
        help="scenes: pixels a side of a tile (default 256 on a CPU, 1024 on a GPU)",
    )
    predict.add_argument("--overwrite", action="store_true")
    predict.set_defaults(handler=_cmd_predict)

    transfer = commands.add_parser(
        "transfer",
        help="cluster images without K: pretrained features, UMAP, Dirichlet-process mixture",
    )
    transfer.add_argument(
        "--target", required=True, metavar="NAME|PATH", type=_name_or_path, help="images to cluster"
    )
    transfer.add_argument(
        "--source",
        default=None,
        metavar="NAME|PATH",
        type=_name_or_path,
        help="labelled images for fine-tuning",
    )
    transfer.add_argument(
        "--extractor",
        default="pixels",
        metavar="SPEC",
        help="run:DIR (an explore train run), dinov2:NAME_OR_PATH, pixels or pixels:N (PCA)",
    )
    transfer.add_argument("--finetune-epochs", type=int, default=0, metavar="N")
    transfer.add_argument("--finetune-lr", type=_finite, default=1e-3, help="the head's (Adam)")
    transfer.add_argument(
        "--backbone-lr", type=_finite, default=None, help="the extractor's (default: head's / 10)"
    )
    transfer.add_argument(
        "--adapt-bn",
        action="store_true",
        help="re-estimate BatchNorm statistics on the target (AdaBN, no labels)",
    )
    transfer.add_argument("--max-clusters", type=int, default=20, metavar="M")
    transfer.add_argument(
        "--umap-components", type=int, default=None, metavar="C", help="default 2; 0: no UMAP"
    )
    transfer.add_argument("--neighbors", type=int, default=None, help="UMAP n_neighbors (15)")
    transfer.add_argument("--min-dist", type=_finite, default=None, help="UMAP min_dist (0.0)")
    transfer.add_argument(
        "--image-size", type=int, default=None, metavar="PX", help="load images at PX x PX"
    )
    transfer.add_argument(
        "--resize", action="store_true", help="resize images to what the extractor takes"
    )
    transfer.add_argument(
        "--channels",
        default=None,
        choices=["strict", "repeat", "gray"],
        help="map channels to what the extractor takes (repeat: gray -> RGB; gray: RGB -> luma)",
    )
    transfer.add_argument("--download", action="store_true", help="dinov2: allow a download")
    transfer.add_argument("--device", default="auto", type=_device)
    transfer.add_argument("--seed", type=_seed, default=0)
    transfer.add_argument("--out", default=None, metavar="DIR", type=_path)
    transfer.add_argument("--overwrite", action="store_true", help="replace results in --out")
    transfer.set_defaults(handler=_cmd_transfer)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `explore` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ExploreError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"explore: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("explore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
