"""Low-dimensional embeddings of feature vectors (UMAP), for plots and for clustering in the
embedding (e.g. UMAP followed by a Dirichlet-process mixture).

Measured on this 2-core machine (``docs/stack-notes.md``, section 3): most of UMAP's first
fit in a process is pynndescent compiling its nearest-neighbour search, so the k-nearest-neighbour
graph is computed exactly with scikit-learn and handed to UMAP as ``precomputed_knn`` (about
40 s -> 13 s for the first fit, 0.2 s for the graph itself). The price: the fitted model has no
search index, so ``UMAP.transform`` of new points is unavailable; :func:`umap_embedding` places
points left out of a subsampled fit itself (see ``max_points``).

``umap`` is imported lazily (about 15 s without a numba cache), so importing this module is cheap.
"""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
from threadpoolctl import threadpool_limits

from explore.errors import DataError

__all__ = ["knn_graph", "subsample_indices", "umap_embedding"]


def _import_umap() -> ModuleType:
    """``import umap`` without its ``ImportWarning: Tensorflow not installed`` (ParametricUMAP is
    not used here), so runs with warnings as errors work."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Tensorflow not installed", category=ImportWarning
        )
        import umap

    return umap


def subsample_indices(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most `max_points` of `n` items, drawn without replacement.

    Deterministic for a given (n, max_points, seed), so a dashboard that embeds a bounded sample of
    a scene's pixels gets the same sample every time; ``max_points=None`` (or ``>= n``) keeps all.
    """
    if n < 0:
        raise DataError(f"n must be >= 0; got {n}")
    if max_points is None or max_points >= n:
        return np.arange(n, dtype=np.int64)
    if max_points < 1:
        raise DataError(f"max_points must be >= 1 (or None for all points); got {max_points}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_points), replace=False)).astype(np.int64)


def _validated_features(features: np.ndarray) -> np.ndarray:
    array = np.asarray(features)
    if array.ndim != 2:
        raise DataError(f"features must be a 2-D array (N points, d features); got {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(f"features must be numeric; got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise DataError(
            f"features contain {int((~finite).sum())} NaN/Inf values in {bad_rows.size} of "
            f"{array.shape[0]} points (first bad row: {int(bad_rows[0])}); remove or impute them"
        )
    return np.ascontiguousarray(array)


def knn_graph(features: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-nearest-neighbour graph (each point first, at distance 0), as UMAP expects it for
    ``precomputed_knn``: (indices int32 (N, k), distances float32 (N, k))."""
    from sklearn.neighbors import NearestNeighbors

    with threadpool_limits(limits=1):
        search = NearestNeighbors(n_neighbors=n_neighbors).fit(features)
        distances, indices = search.kneighbors(features)
    return indices.astype(np.int32), distances.astype(np.float32)


def _place_out_of_sample(
    fitted: np.ndarray, embedding: np.ndarray, others: np.ndarray, n_neighbors: int
) -> np.ndarray:
    """Inverse-distance-weighted mean of the embeddings of each point's nearest fitted points."""
    from sklearn.neighbors import NearestNeighbors

    k = min(n_neighbors, fitted.shape[0])
    with threadpool_limits(limits=1):
        search = NearestNeighbors(n_neighbors=k).fit(fitted)
        distances, indices = search.kneighbors(others)
    weights = 1.0 / (distances.astype(np.float64) + 1e-6)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkc->nc", weights, embedding[indices]).astype(embedding.dtype)


def umap_embedding(
    features: np.ndarray,
    *,
    n_components: int = 2,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    max_points: int | None = None,
) -> np.ndarray:
    """UMAP embedding (N, n_components) float32 of `features` (N, d); same seed, same result.

    The neighbour graph is exact (scikit-learn), UMAP runs single-threaded with
    ``random_state=seed`` (reproducible), and BLAS / OpenMP pools are limited to one thread
    (on 2 cores they oversubscribe). ``n_neighbors`` is never clipped: fewer than
    ``n_neighbors + 1`` points raise :class:`DataError`, as do NaN/Inf values.

    With ``max_points`` < N, UMAP is fitted on ``subsample_indices(N, max_points, seed)`` only, and
    every other point is placed at the inverse-distance-weighted mean of the embeddings of its
    ``n_neighbors`` nearest fitted points (in feature space): the cost stays bounded, at the price
    of an approximate position for the points left out.
    """
    array = _validated_features(features)
    n_points = array.shape[0]
    if n_neighbors < 2:
        raise DataError(f"n_neighbors must be >= 2; got {n_neighbors}")
    if n_components < 1:
        raise DataError(f"n_components must be >= 1; got {n_components}")
    if min_dist < 0:
        raise DataError(f"min_dist must be >= 0; got {min_dist}")
    sample = subsample_indices(n_points, max_points, seed)
    n_fit = sample.size
    if n_fit < n_neighbors + 1:
        what = f"{n_points} points" if n_fit == n_points else f"max_points={max_points}"
        raise DataError(
            f"too few points for UMAP: {what} with n_neighbors={n_neighbors}; needs at least "
            f"n_neighbors + 1 = {n_neighbors + 1} points (lower n_neighbors or embed more points)"
        )
    if n_fit <= n_components + 1:
        raise DataError(
            f"too few points for UMAP: {n_fit} points for n_components={n_components}; "
            f"needs more than n_components + 1"
        )

    fitted = array[sample]
    indices, distances = knn_graph(fitted, n_neighbors)
    umap = _import_umap()
    model = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        random_state=seed,
        n_jobs=1,
        precomputed_knn=(indices, distances, None),
    )
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # Expected with a precomputed graph: "transform ... will be unavailable".
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        embedding = np.asarray(model.fit_transform(fitted), dtype=np.float32)

    if n_fit == n_points:
        return embedding
    result = np.empty((n_points, n_components), dtype=np.float32)
    result[sample] = embedding
    others = np.setdiff1d(np.arange(n_points), sample, assume_unique=True)
    result[others] = _place_out_of_sample(fitted, embedding, array[others], n_neighbors)
    return result
