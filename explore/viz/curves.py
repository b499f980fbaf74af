"""Training curves of a run: loss parts and metrics per epoch, and cluster sizes of one epoch.

They read a `RunHistory` (or any sequence of `EpochRecord`), so the live dashboard, a replayed
run and a notebook draw the same pictures from the same records.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (registers the bokeh options the views use)
import numpy as np

from explore.errors import DataError
from explore.viz._checks import cluster_colours, empty_overlay

if TYPE_CHECKING:  # explore.training imports torch; views stay light and duck-type records
    from explore.training.history import EpochRecord, RunHistory

EPOCH = hv.Dimension("epoch")
LOSS = hv.Dimension("loss")
METRIC = hv.Dimension("score")


def _records(history: RunHistory | Iterable[EpochRecord]) -> list[EpochRecord]:
    records = getattr(history, "records", None)
    if records is None:
        try:
            records = list(history)
        except TypeError as error:
            raise DataError(
                "history must be a RunHistory or a sequence of EpochRecord; "
                f"got {type(history).__name__}"
            ) from error
    for record in records:
        if not (hasattr(record, "epoch") and hasattr(record, "losses")):
            raise DataError(
                "history must be a RunHistory or a sequence of EpochRecord; "
                f"got an item of type {type(record).__name__}"
            )
    return records


def _is_scalar(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _curves(
    records: list[EpochRecord],
    field: str,
    vdim: hv.Dimension,
    title: str,
) -> hv.Overlay:
    """One curve per scalar key of `record.<field>`, over the epochs that report it."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        values: Mapping[str, object] = getattr(record, field) or {}
        for key, value in values.items():
            if not _is_scalar(value):
                continue  # e.g. per-class accuracies: a dict, not a curve
            epochs, ys = series.setdefault(str(key), ([], []))
            epochs.append(int(record.epoch))
            ys.append(float(value))  # type: ignore[arg-type]
    if not series:
        return empty_overlay(EPOCH, vdim, title).opts(xticks=_epoch_ticker())
    colours = hv.Cycle("Category10").values
    layers: list[hv.Element] = []
    for index, (key, (epochs, ys)) in enumerate(series.items()):
        data = (np.asarray(epochs), np.asarray(ys))
        colour = colours[index % len(colours)]
        layers.append(
            hv.Curve(data, kdims=[EPOCH], vdims=[vdim], label=key).opts(
                color=colour, line_width=2, tools=["hover"]
            )
        )
        # Points too: a run of one epoch has no line to draw.
        layers.append(
            hv.Scatter(data, kdims=[EPOCH], vdims=[vdim], label=key).opts(color=colour, size=6)
        )
    return hv.Overlay(layers).opts(
        title=title, show_legend=True, legend_position="top_right", xticks=_epoch_ticker()
    )


def _epoch_ticker() -> object:
    """Ticks on whole epochs only (never 1.5)."""
    from bokeh.models import BasicTicker

    return BasicTicker(min_interval=1)


def loss_curves(history: RunHistory | Iterable[EpochRecord]) -> hv.Overlay:
    """One curve per loss part (epoch vs mean loss), labelled by the part's name.

    Shows whether each term of a method's loss still moves; an empty history gives an empty
    overlay with the same axes, so a dashboard can draw it before the first epoch ends."""
    return _curves(_records(history), "losses", LOSS, "losses")


def metric_curves(history: RunHistory | Iterable[EpochRecord]) -> hv.Overlay:
    """One curve per scalar metric (acc, nmi, ari, kappa, ...) over the epochs.

    Non-scalar entries (e.g. a per-class dict) are skipped; a run without labels has no
    metrics and gives an empty overlay with the same axes."""
    return _curves(_records(history), "metrics", METRIC, "metrics")


def _sizes(record_or_sizes: EpochRecord | Sequence[int] | np.ndarray) -> tuple[np.ndarray, str]:
    if hasattr(record_or_sizes, "cluster_sizes"):  # an EpochRecord
        raw: object = record_or_sizes.cluster_sizes
        title = f"cluster sizes (epoch {record_or_sizes.epoch})"
    else:
        raw, title = record_or_sizes, "cluster sizes"
    sizes = np.asarray(raw)
    if sizes.ndim != 1:
        raise DataError(f"cluster sizes must be 1-D (one per cluster); got shape {sizes.shape}")
    if sizes.size == 0:
        return sizes.astype(np.int64), title
    if not (np.issubdtype(sizes.dtype, np.integer) or np.issubdtype(sizes.dtype, np.floating)):
        raise DataError(f"cluster sizes must be numbers; got dtype {sizes.dtype}")
    if not np.all(np.isfinite(sizes)) or not np.all(sizes == np.round(sizes)):
        raise DataError("cluster sizes must be whole numbers")
    if sizes.min() < 0:
        raise DataError(f"cluster sizes must be >= 0; got {int(sizes.min())}")
    return sizes.astype(np.int64), title


def cluster_sizes(
    record_or_sizes: EpochRecord | Sequence[int] | np.ndarray,
    palette: Sequence[str] | None = None,
) -> hv.Bars:
    """Bars of items per cluster (index k = cluster k), from an `EpochRecord` or the sizes.

    Bar k has cluster k's colour on `label_map(assignments, zero_is_unlabelled=False)`, so the
    bars read as a legend of the cluster map; `palette` (colours, cycled) overrides that.
    Degenerate runs (one giant cluster, empty clusters) show at a glance."""
    sizes, title = _sizes(record_or_sizes)
    n_clusters = sizes.size
    if palette is None:
        colours = cluster_colours(n_clusters)
    else:
        palette = [str(colour) for colour in palette]
        if not palette:
            raise DataError("palette must hold at least one colour")
        colours = [palette[k % len(palette)] for k in range(n_clusters)]
    data = {
        "cluster": np.arange(n_clusters),
        "size": sizes,
        "colour": np.asarray(colours, dtype=object),
    }
    bars = hv.Bars(data, kdims=["cluster"], vdims=["size", "colour"])
    return bars.opts(
        title=title,
        color="colour",
        line_color=None,
        xlabel="cluster",
        ylabel="items",
        tools=["hover"],
        hover_tooltips=[("cluster", "@cluster"), ("items", "@size")],
    )
