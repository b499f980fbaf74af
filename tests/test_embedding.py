"""UMAP embeddings: shape, determinism, separation of clear clusters, input checks, subsampling.

The first UMAP fit in a process compiles numba code (several seconds); later fits of a few
hundred points take well under a second."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from explore.errors import DataError
from explore.transfer.embedding import knn_graph, subsample_indices, umap_embedding


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    features, truth = make_blobs(
        n_samples=300,
        n_features=10,
        centers=3,
        cluster_std=1.0,
        center_box=(-20, 20),
        random_state=0,
    )
    return features.astype(np.float32), truth


@pytest.fixture(scope="module")
def embedded(blobs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return umap_embedding(blobs[0], seed=0)


def _ari_of_kmeans(points: np.ndarray, truth: np.ndarray) -> float:
    found = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(points)
    return adjusted_rand_score(truth, found)


def test_shape_dtype_and_determinism(blobs, embedded) -> None:
    assert embedded.shape == (300, 2)
    assert embedded.dtype == np.float32
    assert np.isfinite(embedded).all()
    assert np.array_equal(umap_embedding(blobs[0], seed=0), embedded)
    assert not np.allclose(umap_embedding(blobs[0], seed=1), embedded)


def test_separates_well_separated_blobs(blobs, embedded) -> None:
    assert _ari_of_kmeans(embedded, blobs[1]) > 0.95


def test_more_components(blobs) -> None:
    points = umap_embedding(blobs[0][:100], n_components=3, n_neighbors=10, seed=0)
    assert points.shape == (100, 3)


def test_max_points_fits_a_subsample_and_places_the_rest(blobs) -> None:
    features, truth = blobs
    points = umap_embedding(features, max_points=120, seed=0)
    assert points.shape == (300, 2)
    sample = subsample_indices(300, 120, 0)
    # The fitted points are exactly the embedding of the subsample alone ...
    assert np.array_equal(points[sample], umap_embedding(features[sample], seed=0))
    # ... and the others land with their own blob.
    assert _ari_of_kmeans(points, truth) > 0.95


def test_knn_graph_lists_each_point_first() -> None:
    features = np.random.default_rng(0).normal(size=(40, 3))
    indices, distances = knn_graph(features, 5)
    assert indices.shape == distances.shape == (40, 5)
    assert indices.dtype == np.int32 and distances.dtype == np.float32
    assert np.array_equal(indices[:, 0], np.arange(40))
    assert np.all(distances[:, 0] == 0) and np.all(np.diff(distances, axis=1) >= 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_is_a_clear_error(blobs, bad: float) -> None:
    features = blobs[0].copy()
    features[7, 2] = bad
    with pytest.raises(DataError, match=r"NaN/Inf.*first bad row: 7"):
        umap_embedding(features)


def test_too_few_points_is_a_clear_error() -> None:
    features = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(DataError, match=r"too few points.*10 points.*n_neighbors=15"):
        umap_embedding(features)
    with pytest.raises(DataError, match=r"max_points=8"):
        umap_embedding(features, n_neighbors=8, max_points=8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_neighbors": 1}, "n_neighbors must be >= 2"),
        ({"n_components": 0}, "n_components must be >= 1"),
        ({"min_dist": -0.1}, "min_dist must be >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        umap_embedding(np.zeros((50, 3)), **kwargs)


def test_wrong_shape_or_dtype() -> None:
    with pytest.raises(DataError, match="2-D"):
        umap_embedding(np.zeros(50))
    with pytest.raises(DataError, match="numeric"):
        umap_embedding(np.array([["a", "b"]] * 50))


def test_subsample_indices() -> None:
    first = subsample_indices(10_000, 500, seed=3)
    assert first.shape == (500,)
    assert np.all(np.diff(first) > 0)  # sorted, unique
    assert first.min() >= 0 and first.max() < 10_000
    assert np.array_equal(first, subsample_indices(10_000, 500, seed=3))
    assert not np.array_equal(first, subsample_indices(10_000, 500, seed=4))
    assert np.array_equal(subsample_indices(20, None, 0), np.arange(20))
    assert np.array_equal(subsample_indices(20, 50, 0), np.arange(20))
    with pytest.raises(DataError, match="max_points"):
        subsample_indices(20, 0, 0)
