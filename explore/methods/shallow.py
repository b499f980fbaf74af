"""The input path the shallow anchors share (k-means, spectral clustering): a scene's pixels,
an image set's images or a plain (n, F) array -> standardised features -> PCA -> optionally
each component smoothed over the image (scenes only) -> the rows a clustering step sees.

`ShallowClustering` owns that path and scikit-learn's estimator conventions; a subclass supplies
`_cluster(features)` (the fit on the (n, D) rows: labels) and `_assign(features)` (labels of new
rows, for `predict`).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.decomposition import PCA

from explore.compute import check_feature_array, limit_threads
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.errors import DataError

__all__ = ["ShallowClustering"]


class ShallowClustering(ClusterMixin, BaseEstimator):
    """Base of the shallow anchors: the shared input path (module docstring) and `fit`,
    `fit_predict`, `predict`, `transform`. Subclasses set their hyper-parameters in `__init__`
    (n_clusters, n_components, smoothing_sigma, standardize, seed, ...)."""

    n_clusters: int
    n_components: int | None
    smoothing_sigma: float | None
    standardize: bool | None
    seed: int

    # ------------------------------------------------------------------ subclass hooks
    def _cluster(self, features: np.ndarray) -> np.ndarray:
        """Cluster the (n, D) rows: (n,) labels in 0..K-1."""
        raise NotImplementedError

    def _assign(self, features: np.ndarray) -> np.ndarray:
        """Labels (n,) of new rows in the fitted feature space."""
        raise NotImplementedError

    def _check_more(self, n_samples: int) -> None:
        """Hyper-parameters of the subclass, checked before any work."""

    # ------------------------------------------------------------------ validation
    def _check_parameters(self, n_samples: int, kind: str) -> None:
        if not isinstance(self.n_clusters, int | np.integer) or not (
            2 <= self.n_clusters <= n_samples
        ):
            raise DataError(
                f"n_clusters (K) must be an integer in [2, {n_samples}] for data with "
                f"{n_samples} {kind}; got K={self.n_clusters!r}"
            )
        if self.n_components is not None and not (
            isinstance(self.n_components, int | np.integer) and self.n_components >= 1
        ):
            raise DataError(
                f"n_components must be None or an integer >= 1; got {self.n_components!r}"
            )
        if self.smoothing_sigma is not None and not self.smoothing_sigma > 0:
            raise DataError(f"smoothing_sigma must be None or > 0; got {self.smoothing_sigma!r}")
        self._check_more(n_samples)

    @staticmethod
    def _unpack(data: Scene | ImageSet | np.ndarray) -> tuple[np.ndarray, tuple[int, int] | None]:
        """(n, F) float32 pixels/samples and the (H, W) layout (None for images and arrays)."""
        if isinstance(data, Scene):
            height, width, _ = data.shape
            return data.pixels().astype(np.float32, copy=False), (height, width)
        if isinstance(data, ImageSet):
            return check_feature_array(data.images.reshape(data.n_images, -1)), None
        return check_feature_array(data), None

    # ------------------------------------------------------------------ features
    def _embed(self, samples: np.ndarray, layout: tuple[int, int] | None) -> np.ndarray:
        """(n, F) raw samples -> (n, D) features the clustering sees, with fitted statistics."""
        features = (samples - self.feature_mean_) / self.feature_scale_
        if self.pca_ is not None:
            features = self.pca_.transform(features).astype(np.float32, copy=False)
        if self.smoothing_sigma is not None:
            if layout is None:
                raise DataError(
                    "smoothing_sigma needs a Scene (pixels with a spatial layout); got a plain "
                    "array: pass smoothing_sigma=None"
                )
            height, width = layout
            grid = features.reshape(height, width, -1)
            smoothed = np.stack(
                [
                    gaussian_filter(grid[:, :, component], sigma=float(self.smoothing_sigma))
                    for component in range(grid.shape[2])
                ],
                axis=-1,
            )
            features = smoothed.reshape(height * width, -1)
        return features

    def _fit_features(self, data: Scene | ImageSet | np.ndarray) -> tuple[np.ndarray, tuple | None]:
        """Fit the input statistics (standardisation, PCA) on `data`; its (n, D) features."""
        samples, layout = self._unpack(data)
        n_samples, n_features = samples.shape
        self._check_parameters(n_samples, "pixels" if layout is not None else "samples")
        if self.smoothing_sigma is not None and layout is None:
            raise DataError(
                "smoothing_sigma needs a Scene (pixels with a spatial layout); got a plain "
                "array: pass smoothing_sigma=None"
            )
        self.n_features_in_ = n_features
        self.feature_mean_ = samples.mean(axis=0, dtype=np.float64).astype(np.float32)
        standardize = (
            not isinstance(data, ImageSet) if self.standardize is None else bool(self.standardize)
        )
        if standardize:
            scale = samples.std(axis=0, dtype=np.float64)
            scale[scale == 0] = 1.0  # constant bands become zero rather than NaN
        else:
            scale = np.ones(n_features)
        self.feature_scale_ = scale.astype(np.float32)
        if self.n_components is None:
            self.pca_ = None
        else:
            n_components = min(int(self.n_components), n_features, n_samples)
            standardized = (samples - self.feature_mean_) / self.feature_scale_
            self.pca_ = PCA(n_components=n_components, random_state=self.seed).fit(standardized)
        return self._embed(samples, layout), layout

    def _check_fitted_input(
        self, data: Scene | ImageSet | np.ndarray
    ) -> tuple[np.ndarray, tuple | None]:
        if not hasattr(self, "labels_"):
            raise DataError(f"this {type(self).__name__} is not fitted yet: call fit first")
        samples, layout = self._unpack(data)
        if samples.shape[1] != self.n_features_in_:
            raise DataError(
                f"data has {samples.shape[1]} bands/features but the model was fitted on "
                f"{self.n_features_in_}"
            )
        return samples, layout

    # ------------------------------------------------------------------ estimator API
    def fit(self, data: Scene | ImageSet | np.ndarray, y: None = None) -> ShallowClustering:
        """Cluster every pixel of a Scene (labels_ (H, W)), every image of an ImageSet or every
        row of an (n, F) array (labels_ (n,)). Labels in the data are not used."""
        start = time.perf_counter()
        with limit_threads():
            features, layout = self._fit_features(data)
            flat_labels = np.asarray(self._cluster(features)).astype(np.int64)
        self.labels_ = flat_labels if layout is None else flat_labels.reshape(layout)
        self.seconds_ = time.perf_counter() - start
        return self

    def fit_predict(self, data: Scene | ImageSet | np.ndarray, y: None = None) -> np.ndarray:
        """`fit(data).labels_`: (H, W) for a Scene, (n,) for an array."""
        return self.fit(data).labels_

    def transform(self, data: Scene | ImageSet | np.ndarray) -> np.ndarray:
        """(n, D) features the clustering sees (standardised with the fitted statistics,
        projected, smoothed if set), one row per pixel in row-major order or per sample."""
        samples, layout = self._check_fitted_input(data)
        with limit_threads():
            return self._embed(samples, layout)

    def predict(self, data: Scene | ImageSet | np.ndarray) -> np.ndarray:
        """Cluster of each pixel of a Scene (H, W) or row of an array (n,), with the statistics
        learned in `fit` (so another scene of the same sensor can be mapped)."""
        samples, layout = self._check_fitted_input(data)
        with limit_threads():
            flat_labels = np.asarray(self._assign(self._embed(samples, layout))).astype(np.int64)
        return flat_labels if layout is None else flat_labels.reshape(layout)
