"""The `explore` command's parser and entry point (`main`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from explore.cli.common import (
    EXIT_USAGE,
    _device,
    _finite,
    _name_or_path,
    _Parser,
    _path,
    _positive_int,
    _seed,
)
from explore.cli.data_commands import _cmd_datasets, _cmd_download, _cmd_info
from explore.cli.run_commands import _cmd_predict, _cmd_train, _cmd_transfer
from explore.errors import ExploreError
from explore.launch import launched_by_torchrun
from explore.methods import DEEP_METHODS, SHALLOW_METHODS

DESCRIPTION = (
    "Deep clustering of hyperspectral scenes and small images: datasets, download, info, "
    "train, predict, transfer."
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="explore", description=DESCRIPTION)
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
    train.add_argument(
        "--scan-epochs",
        type=int,
        default=None,
        metavar="N",
        help="deep methods: end with N epochs of neighbour consistency (SCAN) on neighbours "
        "mined in the learnt feature space (default 0)",
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


def run() -> None:
    """The `explore` command and `python -m explore`: exits with `main`'s status. A process of
    a torchrun launch leaves without the interpreter's finalization, its output flushed first:
    torch's gloo and autograd threads can race that finalization and keep a process whose work
    is done from ever exiting (1 run in 40 of the distributed tests' workers did)."""
    code = main()
    try:
        in_launch = launched_by_torchrun()
    except ExploreError:  # a malformed WORLD_SIZE: main has said so already
        in_launch = False
    if in_launch:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
