"""Clustering without being told K: a Dirichlet-process Gaussian mixture (variational,
scikit-learn's `BayesianGaussianMixture`) that infers the number of clusters, and
`infer_clusters`, which runs it on any features (optionally through UMAP first) or on the
embedding of any fitted deep method.

Step 3 of transfer clustering (docs/methods.md, section 4), offered to every method: the mixture is
given an upper bound `max_clusters` on components; the inferred K is the number of components that
own at least one sample, and labels are renumbered 0..K-1 (largest cluster first).

Measured on this 2-core machine (docs/stack-notes.md, sections 4 and 5): `init_params="kmeans"`
finds the components that `"k-means++"` misses, and BLAS / OpenMP threads oversubscribe (5.2 s
instead of 0.45 s), so fits run with one thread on machines with <= 2 cores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from explore.compute import check_feature_array, limit_threads
from explore.errors import DataError
from explore.params import store_init_params

if TYPE_CHECKING:
    from explore.data.images import ImageSet
    from explore.data.scene import Scene
    from explore.methods.base import DeepClusteringMethod

__all__ = ["DEFAULT_UMAP", "DirichletProcessMixture", "InferredClusters", "infer_clusters"]

# UMAP settings used before the mixture unless told otherwise. Chosen on the *source* set of the
# transfer benchmark (3,000 MNIST test images as PCA-50 pixels; labels are allowed there), never
# on a target: min_dist = 0 packs clusters tightly; n_components was picked by the error of the
# inferred K over UMAP seeds 0 and 1 (10 digits): 2 components K = 11, 11 (ACC 0.77, 0.76);
# 3 components K = 13, 13 (ACC 0.78, 0.80); 5 components K = 15, 14 (ACC 0.75, 0.73).
DEFAULT_UMAP: dict[str, Any] = {
    "n_components": 2,
    "n_neighbors": 15,
    "min_dist": 0.0,
    "max_points": None,
}


class DirichletProcessMixture(ClusterMixin, BaseEstimator):
    """Gaussian mixture with a Dirichlet-process prior on the weights: clusters (N, d) points and
    infers their number K (<= `max_clusters`).

    Parameters
    ----------
    max_clusters: upper bound on components (the truncation of the process); K is at most this.
    weight_concentration_prior: the process's concentration (None: 1 / max_clusters, scikit-learn's
        default); larger values favour more clusters, although with thousands of points the
        initialisation matters far more (docs/stack-notes.md, section 5).
    covariance_type: "full", "tied", "diag" or "spherical" (scikit-learn's meaning).
    init_params: "kmeans" (the default, see the module docstring), "k-means++", "random", ...
    max_iter, tol, n_init: variational EM settings (the best of `n_init` runs is kept).
    seed: seeds the initialisation.

    Attributes after `fit`
    ----------------------
    labels_: (N,) int64 in 0..K-1, cluster 0 the largest.
    n_clusters_: K, the components owning at least one sample.
    weights_: (K,) mixture weights of those components (as fitted; they need not sum to 1).
    means_: (K, d) their means.
    component_ids_: (K,) the index in `mixture_` of each cluster's component.
    mixture_: the fitted `sklearn.mixture.BayesianGaussianMixture`.
    converged_, n_iter_, lower_bound_: from the variational fit.
    """

    def __init__(
        self,
        max_clusters: int = 20,
        *,
        weight_concentration_prior: float | None = None,
        covariance_type: str = "full",
        init_params: str = "kmeans",
        max_iter: int = 500,
        tol: float = 1e-3,
        n_init: int = 1,
        seed: int = 0,
    ) -> None:
        store_init_params(self, locals())

    def _check_parameters(self, n_samples: int) -> None:
        if not (isinstance(self.max_clusters, int | np.integer) and self.max_clusters >= 1):
            raise DataError(f"max_clusters must be an integer >= 1; got {self.max_clusters!r}")
        if n_samples < 2:
            raise DataError(f"the mixture needs at least 2 samples; got {n_samples}")
        if self.weight_concentration_prior is not None and not self.weight_concentration_prior > 0:
            raise DataError(
                "weight_concentration_prior must be None or > 0; "
                f"got {self.weight_concentration_prior!r}"
            )
        if self.covariance_type not in ("full", "tied", "diag", "spherical"):
            raise DataError(
                "covariance_type must be 'full', 'tied', 'diag' or 'spherical'; "
                f"got {self.covariance_type!r}"
            )

    def fit(self, X: np.ndarray, y: None = None) -> DirichletProcessMixture:
        """Fit the mixture to X (N, d) and assign every row: `labels_` (N,), `n_clusters_`."""
        from sklearn.mixture import BayesianGaussianMixture

        samples = check_feature_array(X)
        n_samples = samples.shape[0]
        self._check_parameters(n_samples)
        mixture = BayesianGaussianMixture(
            n_components=int(min(self.max_clusters, n_samples)),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=self.weight_concentration_prior,
            covariance_type=self.covariance_type,
            init_params=self.init_params,
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            n_init=int(self.n_init),
            random_state=self.seed,
        )
        with limit_threads():
            mixture.fit(samples)
            components = mixture.predict(samples)
        counts = np.bincount(components, minlength=mixture.n_components)
        occupied = np.flatnonzero(counts)
        # Largest first; ties keep the component order (a stable sort of -counts).
        order = occupied[np.argsort(-counts[occupied], kind="stable")]
        cluster_of_component = np.full(mixture.n_components, -1, dtype=np.int64)
        cluster_of_component[order] = np.arange(order.size)
        self.mixture_ = mixture
        self.component_ids_ = order
        self._cluster_of_component = cluster_of_component
        self.labels_ = cluster_of_component[components]
        self.n_clusters_ = int(order.size)
        self.weights_ = mixture.weights_[order]
        self.means_ = mixture.means_[order]
        self.n_features_in_ = samples.shape[1]
        self.converged_ = bool(mixture.converged_)
        self.n_iter_ = int(mixture.n_iter_)
        self.lower_bound_ = float(mixture.lower_bound_)
        return self

    def _checked(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "mixture_"):
            raise DataError("this DirichletProcessMixture is not fitted yet: call fit first")
        samples = check_feature_array(X)
        if samples.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {samples.shape[1]} features but the mixture was fitted on "
                f"{self.n_features_in_}"
            )
        return samples

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Memberships (N, K) over the K clusters found in `fit` (components that owned no
        training sample are left out and the rest renormalised)."""
        samples = self._checked(X)
        with limit_threads():
            proba = self.mixture_.predict_proba(samples)[:, self.component_ids_]
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[1])
        return np.where(total > 0, proba / np.where(total > 0, total, 1.0), uniform)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Cluster (N,) in 0..K-1 of each row of X: the most probable of the K clusters."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def fit_predict(self, X: np.ndarray, y: None = None) -> np.ndarray:
        """`fit(X).labels_`."""
        return self.fit(X).labels_


@dataclass(frozen=True)
class InferredClusters:
    """What `infer_clusters` found: `labels` (N,) in 0..K-1, `n_clusters` K, the `features`
    (N, d) it started from, their UMAP `embedding` (N, c) (None without UMAP) and the fitted
    `mixture`."""

    labels: np.ndarray
    n_clusters: int
    features: np.ndarray
    embedding: np.ndarray | None
    mixture: DirichletProcessMixture


def _umap_options(umap: bool | Mapping[str, Any]) -> dict[str, Any] | None:
    if umap is False or umap is None:
        return None
    if umap is True:
        return dict(DEFAULT_UMAP)
    if not isinstance(umap, Mapping):
        raise DataError(f"umap must be True, False or a dict of UMAP settings; got {umap!r}")
    unknown = sorted(set(umap) - set(DEFAULT_UMAP))
    if unknown:
        raise DataError(
            f"unknown UMAP settings {unknown}; known: {sorted(DEFAULT_UMAP)} "
            "(see explore.transfer.embedding.umap_embedding)"
        )
    return {**DEFAULT_UMAP, **umap}


def infer_clusters(
    features_or_method: np.ndarray | DeepClusteringMethod,
    data: Scene | ImageSet | None = None,
    *,
    max_clusters: int = 20,
    umap: bool | Mapping[str, Any] = True,
    seed: int = 0,
    **mixture_options: Any,
) -> InferredClusters:
    """Cluster without K: features -> (UMAP) -> Dirichlet-process mixture.

    `features_or_method` is an (N, d) array, or a fitted deep method (SSCC, CC, SACC, S3OCNet,
    anything with `transform(data)`), whose backbone features of `data` are used: so every
    method can run without being told K. `umap` is True (the `DEFAULT_UMAP` settings), False
    (the mixture sees the features directly) or a dict overriding some of `DEFAULT_UMAP`
    (`n_components`, `n_neighbors`, `min_dist`, `max_points`). `mixture_options` go to
    `DirichletProcessMixture`. For a scene, labels are per pixel in row-major order (reshape to
    (H, W)).
    """
    if isinstance(features_or_method, np.ndarray):
        if data is not None:
            raise DataError("data is only used with a fitted method; features were given")
        features = features_or_method
    elif callable(getattr(features_or_method, "transform", None)):
        if data is None:
            raise DataError(
                f"{type(features_or_method).__name__} given: pass the data to embed (data=...)"
            )
        features = features_or_method.transform(data)
    else:
        raise DataError(
            "features_or_method must be an (N, d) array or a fitted method with transform(); "
            f"got {type(features_or_method).__name__}"
        )
    features = check_feature_array(features)
    options = _umap_options(umap)
    embedding = None
    clustered = features
    if options is not None:
        from explore.transfer.embedding import umap_embedding

        embedding = umap_embedding(features, seed=seed, **options)
        clustered = embedding
    mixture = DirichletProcessMixture(max_clusters, seed=seed, **mixture_options).fit(clustered)
    return InferredClusters(
        labels=mixture.labels_,
        n_clusters=mixture.n_clusters_,
        features=features,
        embedding=embedding,
        mixture=mixture,
    )
