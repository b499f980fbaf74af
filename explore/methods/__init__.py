"""Clustering methods, one file per method, each following scikit-learn's estimator conventions:
hyper-parameters in `__init__`, `fit` returns `self`, learned state ends in `_` (`labels_`).

`METHODS` is the one registry of what `explore` can run: the command line's choices, the
dashboard's list and `explore.runs` all read it. Classes are imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from explore.errors import DataError


class MethodEntry(NamedTuple):
    """One registered method: where its class lives, its kind and one sentence on what it does.

    kind: "shallow" (one fit, no training loop: the anchors), "deep" (trained epoch by epoch by
    the `Trainer`, checkpointed and resumable) or "transfer" (a pretrained extractor, then UMAP
    and a mixture that infers K; run by `explore transfer`)."""

    target: str
    kind: str
    summary: str


METHODS: dict[str, MethodEntry] = {
    "kmeans": MethodEntry(
        "explore.methods.kmeans:KMeansClustering",
        "shallow",
        "k-means on standardised, PCA-reduced spectra or pixels: the first anchor.",
    ),
    "spectral": MethodEntry(
        "explore.methods.spectral:SpectralClustering",
        "shallow",
        "Spectral clustering of a nearest-neighbour graph of the PCA-reduced spectra: the "
        "second anchor.",
    ),
    "sscc": MethodEntry(
        "explore.methods.sscc:SSCC",
        "deep",
        "A twin network with one output per cluster, trained so that two views of a pixel agree "
        "and different clusters stay decorrelated.",
    ),
    "cc": MethodEntry(
        "explore.methods.cc:CC",
        "deep",
        "Contrastive clustering: two weak views contrasted item by item and cluster by cluster.",
    ),
    "sacc": MethodEntry(
        "explore.methods.sacc:SACC",
        "deep",
        "CC with a third, strongly augmented view contrasted against the two weak ones.",
    ),
    "s3ocnet": MethodEntry(
        "explore.methods.s3ocnet:S3OCNet",
        "deep",
        "Self-organizing clustering heads: each view's cluster is the other view's target.",
    ),
    "transfer": MethodEntry(
        "explore.methods.transfer:TransferClustering",
        "transfer",
        "Features of a pretrained network (optionally fine-tuned on a labelled source), UMAP, "
        "and a Dirichlet-process mixture that infers the number of clusters.",
    ),
}

DEEP_METHODS: dict[str, str] = {
    name: entry.target for name, entry in METHODS.items() if entry.kind == "deep"
}
"""The deep methods by name -> "module:class"."""

SHALLOW_METHODS: tuple[str, ...] = tuple(
    name for name, entry in METHODS.items() if entry.kind == "shallow"
)
"""The anchors: fitted once, nothing to resume."""


def method_class(name: str) -> type:
    """The class of any registered method by its name (`kmeans`, `sscc`, `transfer`, ...)."""
    if name not in METHODS:
        raise DataError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    module_name, class_name = METHODS[name].target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_method_class(name: str) -> type:
    """The class of a deep method by its name (`sscc`, ...)."""
    if name not in DEEP_METHODS:
        raise DataError(f"unknown deep method {name!r}; choose one of {sorted(DEEP_METHODS)}")
    return method_class(name)
