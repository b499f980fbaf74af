"""`DeepClusteringMethod`: the base every deep method subclasses.

It gives scikit-learn's conventions (`fit` returns self, `labels_`, `predict`, `predict_proba`,
`transform`), builds the `Trainer` (exposed for step-by-step use through `make_trainer`), and
saves / restores everything a trained model needs to cluster a scene it never saw: the
preprocessing statistics, the architecture and the weights. A subclass supplies the model, the
loss of a batch and the optimiser (the `TrainableMethod` hooks of `explore.training.trainer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from explore.data.preprocess import SpectralPreprocessor
from explore.data.scene import Scene
from explore.errors import CheckpointError, DataError
from explore.training.checkpoint import check_compatible, load_checkpoint
from explore.training.history import RunHistory
from explore.training.sources import SceneSource
from explore.training.trainer import Callback, Trainer


class DeepClusteringMethod:
    """Shared machinery of the deep methods. Hyper-parameters come from a named configuration
    (`CONFIGS[config]`) overridden by any keyword given explicitly (None = take the config's)."""

    name: ClassVar[str] = "deep"
    CONFIGS: ClassVar[dict[str, dict[str, Any]]] = {}
    DEFAULT_CONFIG: ClassVar[str] = "paper"

    n_clusters: int
    config: str
    device: str
    seed: int
    train_on: str
    progress: bool

    # ------------------------------------------------------------------ settings
    def settings(self) -> dict[str, Any]:
        """The effective hyper-parameters: the named config with explicit overrides applied."""
        if self.config not in self.CONFIGS:
            raise DataError(
                f"unknown config {self.config!r} for {self.name}; "
                f"choose one of {sorted(self.CONFIGS)}"
            )
        resolved = dict(self.CONFIGS[self.config])
        for key in resolved:
            value = getattr(self, key, None)
            if value is not None:
                resolved[key] = value
        return resolved

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, as scikit-learn's `get_params` (for cloning and records)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p not in {"self"}]
        return {name: getattr(self, name) for name in names}

    def _validate(self, n_items: int) -> None:
        if not isinstance(self.n_clusters, int) or self.n_clusters < 2:
            raise DataError(f"n_clusters must be an integer >= 2; got {self.n_clusters!r}")
        if self.n_clusters > n_items:
            raise DataError(
                f"n_clusters={self.n_clusters} is larger than the number of items ({n_items})"
            )

    # ------------------------------------------------------------------ hooks for subclasses
    def build_model(self, in_channels: int) -> nn.Module:
        raise NotImplementedError

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def configure_optimizers(self, model: nn.Module):
        raise NotImplementedError

    def architecture(self, in_channels: int) -> dict[str, Any]:
        """What a checkpoint must match to be loaded into this method's model."""
        settings = self.settings()
        return {
            "n_clusters": self.n_clusters,
            "in_channels": in_channels,
            "backbone": settings.get("backbone"),
            "patch_size": settings.get("patch_size"),
        }

    # ------------------------------------------------------------------ scenes
    def _prepare(self, scene: Scene) -> Scene:
        if not isinstance(scene, Scene):
            raise DataError(f"{self.name}.fit expects a Scene; got {type(scene).__name__}")
        settings = self.settings()
        self.preprocessor_ = SpectralPreprocessor(settings["n_components"], seed=self.seed)
        n_components = settings["n_components"]
        if n_components is not None and n_components > scene.n_bands:
            self.preprocessor_.n_components = scene.n_bands
        return self.preprocessor_.fit_transform(scene)

    def make_trainer(
        self,
        scene: Scene,
        *,
        callbacks: Iterable[Callback] = (),
        checkpoint_path: str | Path | None = None,
    ) -> Trainer:
        """Fit the preprocessing on `scene` and return a ready `Trainer` (not yet run): call
        `trainer.run_epoch()` for step-by-step use, or `trainer.fit()`."""
        self._validate(scene.n_pixels)
        prepared = self._prepare(scene)
        settings = self.settings()
        source = SceneSource(
            prepared,
            patch_size=settings["patch_size"],
            device=_device_of(self.device),
            train_on=self.train_on,
        )
        trainer = Trainer(
            self,
            source,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            device=self.device,
            seed=self.seed,
            callbacks=callbacks,
            checkpoint_path=checkpoint_path,
            progress=self.progress,
            metadata={
                "dataset": scene.name,
                "n_clusters": self.n_clusters,
                "config": self.config,
                "settings": settings,
                "class_names": list(scene.class_names),
            },
        )
        self.trainer_ = trainer
        return trainer

    def checkpoint_extra(self) -> dict[str, Any]:
        """Saved with every checkpoint: constructor parameters and preprocessing state."""
        params = {k: v for k, v in self.get_params().items() if _is_plain(v)}
        return {"params": params, "preprocessor": self.preprocessor_.state_dict()}

    def fit(
        self,
        scene: Scene,
        *,
        callbacks: Iterable[Callback] = (),
        checkpoint_path: str | Path | None = None,
        resume: bool = False,
    ) -> DeepClusteringMethod:
        """Train on `scene` and assign every pixel (`labels_`, an (H, W) map of 0..K-1).

        With `resume=True` and an existing `checkpoint_path`, training continues from it."""
        trainer = self.make_trainer(scene, callbacks=callbacks, checkpoint_path=checkpoint_path)
        if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
            trainer.load_checkpoint(checkpoint_path)
        history = trainer.fit()
        self.history_: RunHistory = history
        self.model_ = trainer.model
        self.labels_ = (
            history.last.assignments
            if history.last is not None and not trainer.stop_requested
            else trainer.assign()
        )
        return self

    def fit_predict(self, scene: Scene, **kwargs: Any) -> np.ndarray:
        return self.fit(scene, **kwargs).labels_

    def _source_for(self, scene: Scene) -> SceneSource:
        if not hasattr(self, "trainer_"):
            raise DataError(f"{self.name} is not fitted: call fit(scene) or from_checkpoint(path)")
        prepared = self.preprocessor_.transform(scene)
        return SceneSource(
            prepared, patch_size=self.settings()["patch_size"], device=self.trainer_.device
        )

    def predict(self, scene: Scene) -> np.ndarray:
        """Cluster of every pixel of `scene` (H, W): the training scene or one never seen, with
        the same bands. Batch by batch: memory bounded by the batch size."""
        return self.trainer_.assign(self._source_for(scene))

    def predict_proba(self, scene: Scene) -> np.ndarray:
        """Soft assignments (H * W, K), pixels in row-major order."""
        return self.trainer_.predict_proba(self._source_for(scene)).numpy()

    def transform(self, scene: Scene) -> np.ndarray:
        """Backbone features (H * W, d), the embedding used by UMAP views and mixtures."""
        return self.trainer_.embed(self._source_for(scene)).numpy()

    # ------------------------------------------------------------------ saved runs
    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "auto") -> DeepClusteringMethod:
        """A fitted method rebuilt from a checkpoint (weights, preprocessing, settings)."""
        state = load_checkpoint(path)
        extra = state.get("extra") or {}
        if "params" not in extra or "preprocessor" not in extra:
            raise CheckpointError(f"checkpoint {path} lacks the method's parameters")
        params = dict(extra["params"])
        params["device"] = device
        method = cls(**params)
        check_compatible(state, cls.name, {"n_clusters": method.n_clusters})
        method.preprocessor_ = SpectralPreprocessor.from_state_dict(extra["preprocessor"])
        in_channels = method.preprocessor_.n_outputs
        check_compatible(state, cls.name, method.architecture(in_channels))
        patch_size = method.settings()["patch_size"]
        # The trainer needs a source to build on; predictions use the scene given later.
        placeholder = Scene(
            np.zeros((patch_size, patch_size, in_channels), dtype=np.float32), name="placeholder"
        )
        source = SceneSource(placeholder, patch_size=patch_size, device=_device_of(device))
        trainer = Trainer(
            method,
            source,
            epochs=max(int(state.get("epochs", 1)), 1),
            batch_size=2,
            device=device,
            seed=method.seed,
        )
        try:
            trainer.model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise CheckpointError(f"checkpoint {path} does not fit the model: {error}") from error
        trainer.epoch = int(state["epoch"])
        method.trainer_ = trainer
        method.model_ = trainer.model
        return method


def _device_of(device: str) -> torch.device:
    from explore.training.trainer import resolve_device

    return resolve_device(device)


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    return False
