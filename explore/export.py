"""A run's outputs as the bytes of downloadable files: the cluster map as a PNG (one colour per
cluster, the scene's aspect), the labels as a .npy, the map as a GeoTIFF on the scene's
georeference, and the run (settings, scores, per-epoch history) as JSON.

The dashboard hands these bytes to the browser; nothing is written on the server. The JSON is
the CLI's metrics.json payload (`explore.runs.Run.metrics`, same text as `write_json`) with the
run's history (`RunHistory.meta`, the text history.npz keeps) beside it, so a notebook reads
either with `json.load`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from explore.runs import Run, json_bytes, npy_bytes
from explore.training.history import RunHistory

__all__ = [
    "PNG_MIN_SIDE",
    "export_filename",
    "labels_npy_bytes",
    "map_png_bytes",
    "png_scale",
    "run_json_bytes",
]

PNG_MIN_SIDE = 512
"""A small scene's PNG is enlarged (whole pixels) until its longer side reaches this."""


def png_scale(shape: Sequence[int], min_side: int = PNG_MIN_SIDE) -> int:
    """The whole-number enlargement of an (H, W) map's PNG: each map pixel becomes a square of
    this many image pixels, so the scene keeps its aspect (1 for a map already large)."""
    return max(1, int(min_side) // max(1, max(int(v) for v in shape)))


def _rgb(colour: str) -> tuple[int, int, int]:
    text = colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"a colour must be #rrggbb; got {colour!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def map_png_bytes(labels: np.ndarray, palette: Sequence[str], scale: int | None = None) -> bytes:
    """The (H, W) cluster map as a PNG: cluster k in `palette[k]` (cycled), each pixel a
    `scale` x `scale` square (default `png_scale`), as drawn on the page."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a map PNG needs an (H, W) map; got shape {labels.shape}")
    if not palette:
        raise ValueError("a map PNG needs at least one colour")
    scale = png_scale(labels.shape) if scale is None else max(1, int(scale))
    colours = np.array([_rgb(str(c)) for c in palette], dtype=np.uint8)
    rgb = colours[labels % len(colours)]
    rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def labels_npy_bytes(labels: np.ndarray) -> bytes:
    """The labels ((H, W) map or (N,) vector) as a .npy, int16 like the CLI's labels.npy."""
    return npy_bytes(np.asarray(labels).astype(np.int16))


def run_json_bytes(
    run: Run,
    history: RunHistory,
    *,
    epoch: int,
    merges: Sequence[int] | None = None,
) -> bytes:
    """The run as JSON: the CLI's metrics.json payload of `run` (its labels and scores are
    those of `epoch`), plus `epoch`, `history` (`RunHistory.meta`: settings and every epoch's
    losses, metrics and cluster sizes) and, when clusters were merged, `merges`: the relabelling
    of the model's cluster k to the exported cluster `merges[k]` (the history keeps the model's
    own clusters)."""
    payload: dict[str, Any] = run.metrics()
    payload["epoch"] = int(epoch)
    if merges is not None:
        payload["merges"] = [int(k) for k in merges]
    payload["history"] = history.meta()
    return json_bytes(payload)


def export_filename(
    dataset: str,
    method: str,
    n_clusters: int,
    seed: int,
    epoch: int,
    extension: str,
    merged_to: int | None = None,
) -> str:
    """`<dataset>_<method>_K<k>_seed<s>_epoch<e>[_merged<k'>].<ext>`, characters other than
    letters, digits, '-', '_' and '.' replaced by '-'."""
    stem = f"{dataset}_{method}_K{int(n_clusters)}_seed{int(seed)}_epoch{int(epoch)}"
    if merged_to is not None:
        stem += f"_merged{int(merged_to)}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"{stem}.{extension.lstrip('.')}")
