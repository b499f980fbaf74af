"""K-means baseline: standardised bands -> PCA -> (optional spatial Gaussian smoothing) -> k-means.

The reference point every deep method must beat. With `smoothing_sigma` set, each principal
component is blurred over the image before clustering (the "spatially smoothed" variant), which
lets neighbouring pixels vote and removes salt-and-pepper noise from the map.

It also clusters an `ImageSet` (each image's pixels as one vector) and a plain
(n_samples, n_features) array (embeddings); smoothing then does not apply, since the samples have
no spatial layout.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from explore.errors import DataError
from explore.methods.shallow import ShallowClustering
from explore.params import store_init_params

__all__ = ["KMeansClustering"]


class KMeansClustering(ShallowClustering):
    """K-means on the principal components of a scene's standardised pixels.

    Parameters
    ----------
    n_clusters: K, the number of clusters (2 <= K <= number of pixels or samples).
    n_components: principal components kept (capped at the number of bands and of samples);
        None clusters the (standardised) features directly.
    standardize: scale each band / feature to unit variance before PCA. None (default) = True
        for scenes and arrays (bands and features have their own scales), False for image sets:
        their pixels share one scale, and standardising near-constant border pixels amplifies
        noise (measured on `digits`, K = 10, seed 0: ACC 0.676 standardised vs 0.792 not).
    smoothing_sigma: if set, each component is smoothed over the image with a Gaussian filter of
        this standard deviation in pixels before clustering (scenes only).
    n_init: k-means restarts; the run with the lowest inertia is kept.
    seed: seeds PCA, k-means and the pixel sample.
    max_pixels: if set and the scene has more pixels (or samples), k-means is fitted on a random
        sample of this many and the rest are assigned to the nearest centre.

    Attributes after `fit`
    ----------------------
    labels_: (H, W) int64 cluster map in 0..K-1 for a scene, (n_samples,) for an array.
    cluster_centers_: (K, D) centres in the clustered feature space (PCA, possibly smoothed).
    n_features_in_: bands (or features) of the fitted data.
    seconds_: wall-clock time of `fit`.
    """

    def __init__(
        self,
        n_clusters: int,
        n_components: int | None = 30,
        smoothing_sigma: float | None = None,
        standardize: bool | None = None,
        n_init: int = 10,
        seed: int = 0,
        max_pixels: int | None = None,
    ) -> None:
        store_init_params(self, locals())

    def _check_more(self, n_samples: int) -> None:
        if not (isinstance(self.n_init, int | np.integer) and self.n_init >= 1):
            raise DataError(f"n_init must be an integer >= 1; got {self.n_init!r}")
        if self.max_pixels is not None and not (
            isinstance(self.max_pixels, int | np.integer) and self.max_pixels >= self.n_clusters
        ):
            raise DataError(
                f"max_pixels must be None or an integer >= n_clusters ({self.n_clusters}); "
                f"got {self.max_pixels!r}"
            )

    def _cluster(self, features: np.ndarray) -> np.ndarray:
        self.kmeans_ = KMeans(
            n_clusters=int(self.n_clusters), n_init=int(self.n_init), random_state=self.seed
        )
        if self.max_pixels is not None and len(features) > self.max_pixels:
            sample = np.random.default_rng(self.seed).choice(
                len(features), size=int(self.max_pixels), replace=False
            )
            self.kmeans_.fit(features[np.sort(sample)])
            labels = self.kmeans_.predict(features)
        else:
            labels = self.kmeans_.fit(features).labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return labels

    def _assign(self, features: np.ndarray) -> np.ndarray:
        """Nearest fitted centre."""
        return self.kmeans_.predict(features)
