"""Benchmark: prediction over scenes larger than memory, tile by tile, by dense inference.

Makes synthetic memory-mapped scenes of growing size (default 256^2, 1024^2 and 4096^2 pixels x
100 bands, float32 `.npy`: 26 MB, 419 MB and 6.7 GB) in a temporary folder, trains one SSCC
model ("fast" config: the dense-capable `dense_light7` backbone on 7 x 7 patches; one epoch of
4,096 sampled pixels) on the smallest, then runs `explore predict` on each scene in a fresh
process with `EXPLORE_LAZY_BYTES=0` (every scene memory-mapped, as a scene above the 1 GiB
default would be) and `--threads N` torch threads (each count given is a row of its own). Per
run it prints the seconds of the command after the package's imports (loading the checkpoint,
mapping the scene, predicting, writing the map), pixels per second, the process's peak resident
memory (`ru_maxrss`, which counts the pages of the memory-mapped files the process touched)
and the 1-minute load average before the run (other jobs on the machine slow it down). With
`--eager-max N`, sizes up to N are also predicted with the whole scene read into memory; with
`--patch-max N`, sizes up to N are also predicted by the patch path (the model's
`dense_inference` off: every pixel's patch through the network on its own, as before dense
inference); with `--light-max N`, sizes up to N are also predicted by a model with the former
default backbone (`light`, padded, so patch by patch), for comparison.

Synthetic scenes: six smooth random spectra assigned to 32 x 32 pixel blocks, with
multiplicative and additive noise. Storage dtype: `--dtype float32` (default), `float16` or
`uint16` (reflectance x 10,000) to halve the disk a 4096^2 scene needs; the script checks the
free disk space first and refuses sizes that do not fit.

    python benchmarks/scaling.py                                  # 256, 1024, 4096; 1 thread
    python benchmarks/scaling.py --sizes 256 1024 --threads 1 2 --patch-max 1024
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import in_fresh_process, machine_line, markdown_table

N_CLASSES = 6
BLOCK = 32


def make_scene(path: str, side: int, bands: int, dtype: str, seed: int = 0) -> dict:
    """Write a (side, side, bands) synthetic scene to `path` (.npy), strip by strip."""
    from explore.data.lazy import release_pages

    rng = np.random.default_rng(seed)
    wavelengths = np.linspace(0.0, 1.0, bands, dtype=np.float32)
    frequency = rng.uniform(0.5, 3.0, N_CLASSES)[:, None]
    phase = rng.uniform(0.0, 1.0, N_CLASSES)[:, None]
    spectra = (0.35 + 0.25 * np.sin(2 * np.pi * (frequency * wavelengths + phase))).astype(
        np.float32
    )  # (K, B) in [0.1, 0.6]
    blocks = math.ceil(side / BLOCK)
    classes = rng.integers(N_CLASSES, size=(blocks, blocks))
    scale = 10_000.0 if dtype == "uint16" else 1.0
    started = time.perf_counter()
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.dtype(dtype), shape=(side, side, bands)
    )
    strip = max(1, (32 << 20) // (side * bands * 4))
    columns = np.arange(side) // BLOCK
    for top in range(0, side, strip):
        rows = np.arange(top, min(top + strip, side))
        labels = classes[(rows // BLOCK)[:, None], columns[None, :]]
        gain = 1.0 + 0.05 * rng.standard_normal((len(rows), side, 1), dtype=np.float32)
        noise = 0.01 * rng.standard_normal((len(rows), side, bands), dtype=np.float32)
        out[rows[0] : rows[-1] + 1] = ((spectra[labels] * gain + noise) * scale).astype(dtype)
        release_pages(out)
    out.flush()
    del out
    return {"side": side, "seconds": time.perf_counter() - started}


def train_model(scene_path: str, run_dir: str, backbone: str | None = None) -> dict:
    """SSCC, "fast" config (`backbone` overriding its own), one epoch of 4,096 sampled pixels
    of the smallest scene."""
    from explore.data.readers import read_scene
    from explore.methods.sscc import SSCC

    scene = read_scene(scene_path, lazy=True)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = SSCC(
        n_clusters=N_CLASSES,
        config="fast",
        backbone=backbone,
        epochs=1,
        samples_per_epoch=4096,
        device="cpu",
    )
    model.fit(scene, checkpoint_path=Path(run_dir) / "checkpoint.pt")
    return {"seconds": time.perf_counter() - started}


def predict_one(
    run_dir: str, scene_path: str, out_path: str, lazy_bytes: int, threads: int, path: str
) -> dict:
    """`explore predict` (or, for the patch path, the same library call with dense inference
    off) in this (fresh) process with `threads` torch threads; seconds of the command after the
    package's imports (checkpoint, scene, prediction, map), memory before it."""
    import os
    import resource

    os.environ["EXPLORE_LAZY_BYTES"] = str(lazy_bytes)
    import torch

    torch.set_num_threads(threads)
    import explore.methods.sscc  # noqa: F401  (the package's imports are not timed: about 2 s)
    import explore.training  # noqa: F401
    from explore.cli import main

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    started = time.perf_counter()
    if path == "patch":
        from explore.data.readers import read_scene
        from explore.methods.sscc import SSCC

        model = SSCC.from_checkpoint(Path(run_dir) / "checkpoint.pt", device="cpu")
        model.trainer_.dense_inference = False
        model.predict_to_file(read_scene(scene_path), out_path)
        status = 0
    else:
        arguments = ["predict", "--run", run_dir, "--dataset", scene_path, "--out", out_path]
        status = main([*arguments, "--device", "cpu"])
    seconds = time.perf_counter() - started
    labels = np.load(out_path, mmap_mode="r")
    counts = np.bincount(np.asarray(labels[:: max(1, labels.shape[0] // 256)]).ravel())
    return {
        "status": status,
        "seconds": seconds,
        "baseline_mib": baseline,
        "load": load,
        "clusters_seen": int((counts > 0).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--bands", type=int, default=100)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "uint16"])
    parser.add_argument("--eager-max", type=int, default=0, metavar="SIDE")
    parser.add_argument("--patch-max", type=int, default=0, metavar="SIDE")
    parser.add_argument("--light-max", type=int, default=0, metavar="SIDE")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads")
    parser.add_argument("--work", default=None, help="folder for the scenes (default: a temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scenes and maps")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)

    work = Path(args.work or tempfile.mkdtemp(prefix="explore-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    itemsize = np.dtype(args.dtype).itemsize
    sizes = sorted(set(args.sizes))
    needed = sum(side * side * (args.bands * itemsize + 2) for side in sizes)
    free = shutil.disk_usage(work).free
    if needed > 0.9 * free:
        print(
            f"{work}: {needed / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free; use "
            "--dtype float16 / uint16 or smaller --sizes",
            file=sys.stderr,
        )
        return 2
    print(machine_line())
    print(f"work folder {work}: {needed / 2**30:.2f} GiB of {free / 2**30:.0f} GiB free")
    rows: list[dict[str, Any]] = []
    try:
        paths = {}
        for side in sizes:
            paths[side] = str(work / f"scene_{side}.npy")
            made = in_fresh_process(make_scene, paths[side], side, args.bands, args.dtype)
            print(f"made {side} x {side} x {args.bands} {args.dtype} in {made['seconds']:.1f} s")
        run_dir = str(work / "run")
        trained = in_fresh_process(train_model, paths[sizes[0]], run_dir)
        print(f"trained on {sizes[0]}^2 in {trained['seconds']:.1f} s")
        light_dir = str(work / "run_light")
        if any(side <= args.light_max for side in sizes):
            in_fresh_process(train_model, paths[sizes[0]], light_dir, "light")
        runs = [(side, "dense, memory-mapped", 0, "dense") for side in sizes]
        runs += [
            (side, "dense, in memory", 1 << 62, "dense") for side in sizes if side <= args.eager_max
        ]
        runs += [
            (side, "patches, memory-mapped", 0, "patch") for side in sizes if side <= args.patch_max
        ]
        runs += [
            (side, "light (former default): patches, memory-mapped", 0, "light")
            for side in sizes
            if side <= args.light_max
        ]
        for threads in args.threads:
            for side, mode, lazy_bytes, path in runs:
                out = str(work / f"map_{side}_{lazy_bytes}_{path}_{threads}.npy")
                model_dir = light_dir if path == "light" else run_dir
                result = in_fresh_process(
                    predict_one, model_dir, paths[side], out, lazy_bytes, threads, path
                )
                if result["status"] != 0:
                    print(f"explore predict failed on {side}^2 ({mode})", file=sys.stderr)
                    return 1
                pixels = side * side
                rows.append(
                    {
                        "scene": f"{side} x {side} x {args.bands}",
                        "pixels": f"{pixels:,}",
                        "cube GB": f"{pixels * args.bands * itemsize / 1e9:.2f}",
                        "path": mode,
                        "threads": threads,
                        "predict s": f"{result['seconds']:.1f}",
                        "pixels / s": f"{pixels / result['seconds']:,.0f}",
                        "peak MiB": f"{result['peak_mib']:.0f}",
                        "after imports MiB": f"{result['baseline_mib']:.0f}",
                        "load": f"{result['load']:.1f}",
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(markdown_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
