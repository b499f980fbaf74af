"""Transfer clustering (docs/methods.md, section 4): a pretrained extractor, optionally fine-tuned
on a labelled source set, gives one feature vector per target image; UMAP projects the features to a
few dimensions; a Dirichlet-process Gaussian mixture infers the number of clusters and the
memberships at once. Nobody tells it K.

The pieces live in the `explore.transfer` package: extractors in `extractors`, fine-tuning in
`finetune`, UMAP in `embedding`, the mixture and `infer_clusters` (the same last two steps on
any method's embedding) in `mixture`. This module chains them as one scikit-learn estimator.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from explore.data.images import ImageSet
from explore.errors import DataError
from explore.params import store_init_params
from explore.transfer.extractors import (
    ChannelMode,
    Extractor,
    TorchExtractor,
    adapt_batchnorm,
    resolve_extractor,
)
from explore.transfer.mixture import DEFAULT_UMAP, infer_clusters

__all__ = ["TransferClustering"]


class TransferClustering(ClusterMixin, BaseEstimator):
    """Extractor -> (fine-tuning on a labelled source) -> features -> UMAP -> DP mixture.

    Parameters
    ----------
    extractor: a spec (`pixels`, `pixels:N`, `run:DIR`, `dinov2:NAME_OR_PATH`; see
        `explore.transfer.extractors.resolve_extractor`) or an `Extractor`. An extractor
        object is copied before fine-tuning, so the one passed in is never changed.
    finetune_epochs: epochs of supervised fine-tuning on `source` (0: the extractor as is).
    finetune_lr, finetune_backbone_lr, head, augmentation: fine-tuning settings (the head's and
        the extractor's learning rates, ...; see `explore.transfer.finetune.finetune`).
    adapt_batchnorm: re-estimate the extractor's BatchNorm statistics on the target before
        extracting (AdaBN, label-free; `explore.transfer.extractors.adapt_batchnorm`).
    max_clusters: upper bound on the number of clusters the mixture may use.
    umap: True (`explore.transfer.mixture.DEFAULT_UMAP`), False (mixture on the features) or a dict
        overriding `n_components`, `n_neighbors`, `min_dist`, `max_points`.
    resize, channels, device, download: how a spec's extractor adapts images, where it runs,
        and whether a DINOv2 name may be downloaded (None keeps each extractor's default;
        ignored for an `Extractor` object, which carries its own).
    seed: seeds fine-tuning, UMAP and the mixture.

    Attributes after `fit`
    ----------------------
    labels_: (N,) int64 in 0..K-1; n_clusters_: the inferred K.
    features_: (N, d) target features; embedding_: (N, c) UMAP embedding (None without UMAP).
    mixture_: the fitted `DirichletProcessMixture`; extractor_: the extractor used.
    finetune_: `FinetuneReport` (None without fine-tuning).
    adaptations_: what was done to the target images to fit the extractor (resizes, channels).
    timings_: seconds per stage (finetune, features, cluster).
    """

    def __init__(
        self,
        extractor: str | Extractor = "pixels",
        *,
        finetune_epochs: int = 0,
        finetune_lr: float = 1e-3,
        finetune_backbone_lr: float | None = None,
        head: str = "linear",
        augmentation: str | Mapping[str, Any] | None = None,
        adapt_batchnorm: bool = False,
        max_clusters: int = 20,
        umap: bool | Mapping[str, Any] = True,
        resize: bool | None = None,
        channels: ChannelMode | None = None,
        device: str = "auto",
        download: bool = False,
        seed: int = 0,
    ) -> None:
        store_init_params(self, locals())

    def _resolved_extractor(self) -> Extractor:
        if isinstance(self.extractor, Extractor):
            changes = self.finetune_epochs or self.adapt_batchnorm
            return copy.deepcopy(self.extractor) if changes else self.extractor
        return resolve_extractor(
            self.extractor,
            resize=self.resize,
            channels=self.channels,
            device=self.device,
            download=self.download,
            seed=self.seed,
        )

    def fit(
        self, data: ImageSet, y: None = None, *, source: ImageSet | None = None
    ) -> TransferClustering:
        """Cluster the target images `data` (labels, if any, are not used); with
        `finetune_epochs` > 0, first fine-tune the extractor on the labelled `source`."""
        from explore.transfer.finetune import finetune

        if not isinstance(data, ImageSet):
            raise DataError(f"transfer clustering takes an ImageSet target; got {type(data)}")
        if not (isinstance(self.finetune_epochs, int) and self.finetune_epochs >= 0):
            raise DataError(f"finetune_epochs must be an integer >= 0; got {self.finetune_epochs}")
        if self.finetune_epochs and source is None:
            raise DataError(
                f"finetune_epochs={self.finetune_epochs} needs a labelled source set (source=...)"
            )
        timings: dict[str, float] = {}
        started = time.perf_counter()
        extractor = self._resolved_extractor()
        self.finetune_ = None
        if self.finetune_epochs:
            self.finetune_ = finetune(
                extractor,
                source,
                epochs=self.finetune_epochs,
                lr=self.finetune_lr,
                backbone_lr=self.finetune_backbone_lr,
                head=self.head,
                augmentation=self.augmentation,
                seed=self.seed,
            )
        timings["finetune"] = time.perf_counter() - started

        started = time.perf_counter()
        notes = []
        if self.adapt_batchnorm:
            if not isinstance(extractor, TorchExtractor):
                raise DataError(f"adapt_batchnorm needs a network; {extractor.label} has none")
            adapted = adapt_batchnorm(extractor, data)
            notes.append(f"BatchNorm statistics of {adapted} layers re-estimated on the target")
        features = extractor.features(data)
        self.adaptations_ = [*extractor.adaptations_, *notes]
        timings["features"] = time.perf_counter() - started

        started = time.perf_counter()
        found = infer_clusters(
            features, max_clusters=self.max_clusters, umap=self.umap, seed=self.seed
        )
        timings["cluster"] = time.perf_counter() - started

        self.extractor_ = extractor
        self.features_ = found.features
        self.embedding_ = found.embedding
        self.mixture_ = found.mixture
        self.labels_ = found.labels
        self.n_clusters_ = found.n_clusters
        self.timings_ = timings
        return self

    def fit_predict(
        self, data: ImageSet, y: None = None, *, source: ImageSet | None = None
    ) -> np.ndarray:
        """`fit(data, source=source).labels_`."""
        return self.fit(data, source=source).labels_

    def settings(self) -> dict[str, Any]:
        """Plain settings for records: the extractor's, fine-tuning's, UMAP's and the mixture's."""
        if not hasattr(self, "extractor_"):
            raise DataError("this TransferClustering is not fitted yet: call fit first")
        umap = self.umap
        umap_settings = (
            None
            if umap is False or umap is None
            else dict(DEFAULT_UMAP)
            if umap is True
            else {**DEFAULT_UMAP, **umap}
        )
        return {
            **self.extractor_.describe(),
            "finetune_epochs": self.finetune_epochs,
            "finetune_lr": self.finetune_lr,
            "finetune_backbone_lr": self.finetune_backbone_lr,
            "adapt_batchnorm": self.adapt_batchnorm,
            "head": self.head,
            "augmentation": self.augmentation if isinstance(self.augmentation, str) else None,
            "max_clusters": self.max_clusters,
            "umap": umap_settings,
            "seed": self.seed,
        }
