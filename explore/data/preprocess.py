"""`SpectralPreprocessor`: per-band standardisation then PCA, fitted on one scene and applied,
unchanged, to any scene with the same bands (so a trained model can cluster an unseen scene).

Its statistics come from at most `max_fit_pixels` pixels drawn at random, so fitting costs the
same on a scene of any size (a lazy scene reads only those pixels). `transform_pixels` applies
the fitted transform to any block of pixels: the tiled, lazy paths (`SceneSource` on a lazy
scene) apply it tile by tile with the same arithmetic as `transform`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from explore.data.lazy import read_window
from explore.data.scene import Scene
from explore.errors import DataError


class SpectralPreprocessor:
    """Standardise each band (statistics of the fitting scene), then project onto the first
    `n_components` principal components (None keeps all standardised bands).

    Learned state: `mean_`, `scale_` (B,), `components_` (n_components, B), `n_bands_`.
    Component signs are fixed so the largest loading of each is positive (deterministic)."""

    def __init__(
        self, n_components: int | None = 8, *, max_fit_pixels: int = 200_000, seed: int = 0
    ):
        self.n_components = n_components
        self.max_fit_pixels = max_fit_pixels
        self.seed = seed

    def fit(self, scene: Scene) -> SpectralPreprocessor:
        """Learn band statistics and components from at most `max_fit_pixels` pixels."""
        pixels = scene.sample_pixels(self.max_fit_pixels, seed=self.seed).astype(np.float64)
        mean = pixels.mean(axis=0)
        scale = pixels.std(axis=0)
        scale[scale == 0] = 1.0
        standardised = (pixels - mean) / scale
        n_bands = scene.n_bands
        if self.n_components is None:
            components = np.eye(n_bands)
        else:
            if not 1 <= self.n_components <= n_bands:
                raise DataError(
                    f"n_components must be in [1, {n_bands}] for a scene with {n_bands} bands; "
                    f"got {self.n_components}"
                )
            covariance = np.cov(standardised, rowvar=False).reshape(n_bands, n_bands)
            eigenvalues, eigenvectors = np.linalg.eigh(covariance)
            order = np.argsort(eigenvalues)[::-1][: self.n_components]
            components = eigenvectors[:, order].T
            signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(1)])
            components *= signs[:, None]
        self.mean_ = mean.astype(np.float32)
        self.scale_ = scale.astype(np.float32)
        self.components_ = components.astype(np.float32)
        self.n_bands_ = n_bands
        return self

    @property
    def n_outputs(self) -> int:
        return len(self.components_)

    def check_scene(self, scene: Scene) -> None:
        """Raise DataError unless fitted and `scene` has the bands the fit saw."""
        if not hasattr(self, "components_"):
            raise DataError("SpectralPreprocessor is not fitted: call fit(scene) first")
        if scene.n_bands != self.n_bands_:
            raise DataError(
                f"scene {scene.name!r} has {scene.n_bands} bands but the model was fitted on "
                f"{self.n_bands_}; select the same bands first"
            )

    def transform_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(n, B) pixels -> (n, n_outputs) float32: standardised, then projected."""
        return ((pixels.astype(np.float32) - self.mean_) / self.scale_) @ self.components_.T

    def transform(self, scene: Scene) -> Scene:
        """The scene in the fitted space: a new, in-memory scene of `n_outputs` bands
        (wavelengths dropped when PCA is applied). A lazy scene is read strip by strip."""
        self.check_scene(scene)
        height, width, _ = scene.shape
        out = np.empty((height * width, self.n_outputs), dtype=np.float32)
        step = 65_536  # bounded memory on large scenes
        if scene.is_lazy:
            rows = max(1, step // width)
            for top in range(0, height, rows):
                block = read_window(scene.cube, slice(top, top + rows), slice(None))
                pixels = block.reshape(-1, scene.n_bands)
                out[top * width : top * width + len(pixels)] = self.transform_pixels(pixels)
        else:
            pixels = scene.pixels()
            for start in range(0, len(pixels), step):
                out[start : start + step] = self.transform_pixels(pixels[start : start + step])
        keep_wavelengths = self.n_components is None
        return replace(
            scene,
            cube=out.reshape(height, width, self.n_outputs),
            wavelengths=scene.wavelengths if keep_wavelengths else None,
            rgb_bands=scene.rgb_bands if keep_wavelengths else None,
        )

    def fit_transform(self, scene: Scene) -> Scene:
        return self.fit(scene).transform(scene)

    def state_dict(self) -> dict[str, torch.Tensor | int | None]:
        """Learned state as tensors (checkpoints load with `weights_only=True`)."""
        return {
            "n_components": self.n_components,
            "mean": torch.from_numpy(self.mean_),
            "scale": torch.from_numpy(self.scale_),
            "components": torch.from_numpy(self.components_),
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> SpectralPreprocessor:
        preprocessor = cls(n_components=state["n_components"])
        preprocessor.mean_ = state["mean"].numpy()
        preprocessor.scale_ = state["scale"].numpy()
        preprocessor.components_ = state["components"].numpy()
        preprocessor.n_bands_ = len(preprocessor.mean_)
        return preprocessor
