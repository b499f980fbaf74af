"""Dirichlet-process mixture: K recovered on separated blobs, renumbering, prediction, errors, and
`infer_clusters` on features and on a fitted deep method's embedding."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from explore.errors import DataError
from explore.transfer.mixture import DirichletProcessMixture, infer_clusters


def separated_blobs(k: int, seed: int, per_cluster: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """`k` Gaussian blobs (std 1) in 4-D whose centres are at least 12 apart."""
    rng = np.random.default_rng(seed)
    centres: list[np.ndarray] = []
    while len(centres) < k:
        candidate = rng.uniform(-30, 30, size=4)
        if all(np.linalg.norm(candidate - c) >= 12 for c in centres):
            centres.append(candidate)
    truth = np.repeat(np.arange(k), per_cluster)
    points = np.stack(centres)[truth] + rng.normal(size=(truth.size, 4))
    return points.astype(np.float32), truth


@pytest.mark.parametrize("k", [3, 5, 8])
def test_recovers_the_number_of_separated_blobs(k: int) -> None:
    points, truth = separated_blobs(k, seed=k)
    mixture = DirichletProcessMixture(max_clusters=15, seed=0).fit(points)
    assert abs(mixture.n_clusters_ - k) <= 1
    assert adjusted_rand_score(truth, mixture.labels_) > 0.9


def test_labels_are_renumbered_largest_first_and_predict_agrees() -> None:
    rng = np.random.default_rng(0)
    sizes = (40, 160, 90)
    points = np.concatenate(
        [rng.normal(loc=20.0 * i, size=(n, 2)) for i, n in enumerate(sizes)]
    ).astype(np.float32)
    mixture = DirichletProcessMixture(max_clusters=10, seed=0).fit(points)
    assert mixture.n_clusters_ == 3
    assert sorted(np.unique(mixture.labels_)) == [0, 1, 2]
    assert np.bincount(mixture.labels_).tolist() == [160, 90, 40]
    assert mixture.weights_.shape == (3,) and mixture.means_.shape == (3, 2)
    np.testing.assert_array_equal(mixture.predict(points), mixture.labels_)
    proba = mixture.predict_proba(points)
    assert proba.shape == (points.shape[0], 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_same_seed_same_result() -> None:
    points, _ = separated_blobs(4, seed=1)
    first = DirichletProcessMixture(seed=3).fit_predict(points)
    second = DirichletProcessMixture(seed=3).fit_predict(points)
    np.testing.assert_array_equal(first, second)


def test_errors_name_the_argument() -> None:
    points, _ = separated_blobs(3, seed=0)
    with pytest.raises(DataError, match="max_clusters"):
        DirichletProcessMixture(max_clusters=0).fit(points)
    with pytest.raises(DataError, match="covariance_type"):
        DirichletProcessMixture(covariance_type="round").fit(points)
    with pytest.raises(DataError, match="not fitted"):
        DirichletProcessMixture().predict(points)
    with pytest.raises(DataError, match="NaN"):
        DirichletProcessMixture().fit(np.full((10, 2), np.nan))
    fitted = DirichletProcessMixture(seed=0).fit(points)
    with pytest.raises(DataError, match="fitted on 4"):
        fitted.predict(points[:, :2])
    with pytest.raises(DataError, match="unknown UMAP settings"):
        infer_clusters(points, umap={"neighbours": 5})
    with pytest.raises(DataError, match="pass the data"):
        infer_clusters(_TransformOnly())


class _TransformOnly:
    """Anything with `transform(data)` counts as a fitted method."""

    def transform(self, data: np.ndarray) -> np.ndarray:
        return data


def test_infer_clusters_without_umap_on_features() -> None:
    points, truth = separated_blobs(5, seed=2)
    found = infer_clusters(points, max_clusters=12, umap=False)
    assert found.embedding is None
    assert abs(found.n_clusters - 5) <= 1
    assert adjusted_rand_score(truth, found.labels) > 0.9


def test_infer_clusters_on_a_fitted_deep_method() -> None:
    """Any fitted DeepClusteringMethod runs without K: its backbone features go to the mixture."""
    from explore.data.registry import load_images
    from explore.methods.cc import CC

    digits = load_images("digits").per_class(30, seed=0)
    method = CC(n_clusters=10, epochs=1, batch_size=128, device="cpu", seed=0).fit(digits)
    found = infer_clusters(method, digits, max_clusters=8, umap=False)
    assert found.labels.shape == (digits.n_images,)
    assert found.features.shape[0] == digits.n_images
    assert 1 <= found.n_clusters <= 8
    np.testing.assert_array_equal(np.unique(found.labels), np.arange(found.n_clusters))
