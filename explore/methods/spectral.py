"""Spectral clustering anchor: standardised bands -> PCA -> (optional spatial smoothing) ->
rows L2-normalised -> a k-nearest-neighbour graph -> scikit-learn's `SpectralClustering`.

The second shallow reference every deep method is compared with (beside k-means): a graph of
each pixel's nearest spectra, cut into K groups along its leading eigenvectors. It takes the
same inputs as `KMeansClustering` (a Scene, an ImageSet or an (n, F) array) and, like it,
clusters scenes of any size: above `max_pixels` the graph is built on a random sample and every
other pixel takes the cluster of its nearest sampled neighbours (so does `predict` on new data).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import cluster
from sklearn.neighbors import KNeighborsClassifier

from explore.errors import DataError
from explore.methods.shallow import ShallowClustering
from explore.params import store_init_params

__all__ = ["SpectralClustering"]


class SpectralClustering(ShallowClustering):
    """Spectral clustering on a k-nearest-neighbour graph of preprocessed spectra.

    Parameters
    ----------
    n_clusters: K (2 <= K <= number of pixels or samples).
    n_components: principal components of the standardised bands (default 10; None: all).
    n_neighbors: neighbours per pixel in the graph (default 20; capped at n - 1).
    normalize: L2-normalise each pixel's components first, so the graph links spectra by their
        shape (angle) rather than brightness.
    smoothing_sigma: Gaussian smoothing of each component over the image (scenes only).
    standardize: as `KMeansClustering` (None: True for scenes and arrays, False for images).
    assign_labels: how the spectral embedding becomes labels: "kmeans" (seeded) or
        "cluster_qr" (deterministic).
    max_pixels: the graph is built on at most this many pixels (a seeded random sample); the
        rest, and `predict`'s inputs, take the majority cluster of their `n_neighbors` nearest
        sampled pixels.
    seed: seeds PCA, the sample and the label assignment.

    Attributes after `fit`: `labels_` ((H, W) for a scene, (n,) otherwise), `n_features_in_`,
    `seconds_`.
    """

    def __init__(
        self,
        n_clusters: int,
        n_components: int | None = 10,
        n_neighbors: int = 20,
        normalize: bool = True,
        smoothing_sigma: float | None = None,
        standardize: bool | None = None,
        assign_labels: str = "kmeans",
        max_pixels: int = 30_000,
        seed: int = 0,
    ) -> None:
        store_init_params(self, locals())

    def _check_more(self, n_samples: int) -> None:
        if not (isinstance(self.n_neighbors, int | np.integer) and self.n_neighbors >= 1):
            raise DataError(f"n_neighbors must be an integer >= 1; got {self.n_neighbors!r}")
        if self.assign_labels not in ("kmeans", "cluster_qr"):
            raise DataError(
                f"assign_labels must be 'kmeans' or 'cluster_qr'; got {self.assign_labels!r}"
            )
        if not (
            isinstance(self.max_pixels, int | np.integer) and self.max_pixels >= self.n_clusters
        ):
            raise DataError(
                f"max_pixels must be an integer >= n_clusters ({self.n_clusters}); "
                f"got {self.max_pixels!r}"
            )
        if n_samples < 3:
            raise DataError(f"spectral clustering needs at least 3 samples; got {n_samples}")

    def _rows(self, features: np.ndarray) -> np.ndarray:
        if not self.normalize:
            return features
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return features / np.maximum(norms, 1e-12)

    def _cluster(self, features: np.ndarray) -> np.ndarray:
        rows = self._rows(features)
        n_rows = len(rows)
        sample = np.arange(n_rows)
        if n_rows > self.max_pixels:
            rng = np.random.default_rng(self.seed)
            sample = np.sort(rng.choice(n_rows, size=int(self.max_pixels), replace=False))
        neighbours = int(min(self.n_neighbors, len(sample) - 1))
        model = cluster.SpectralClustering(
            n_clusters=int(self.n_clusters),
            affinity="nearest_neighbors",
            n_neighbors=neighbours,
            assign_labels=self.assign_labels,
            random_state=self.seed,
            n_jobs=1,
        )
        with warnings.catch_warnings():
            # A graph in several pieces is legitimate here (well-separated materials).
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            sample_labels = model.fit(rows[sample]).labels_
        self.neighbours_ = KNeighborsClassifier(n_neighbors=neighbours).fit(
            rows[sample], sample_labels
        )
        if len(sample) == n_rows:
            return sample_labels
        labels = self.neighbours_.predict(rows)
        labels[sample] = sample_labels
        return labels

    def _assign(self, features: np.ndarray) -> np.ndarray:
        """Majority cluster of the nearest pixels of the fitted graph."""
        return self.neighbours_.predict(self._rows(features))
