"""`explore datasets`, `explore download` and `explore info`: what data there is and what a
file holds."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from explore.cli.common import EXIT_USAGE, UsageError
from explore.errors import DataError, ExploreError


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
