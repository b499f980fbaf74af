"""`DeepClusteringMethod`: the base every deep method subclasses.

It gives scikit-learn's conventions (`fit` returns self, `labels_`, `predict`, `predict_proba`,
`transform`), builds the `Trainer` (exposed for step-by-step use through `make_trainer`), and
saves / restores everything a trained model needs to cluster a scene it never saw: the
preprocessing statistics, the architecture and the weights. A subclass supplies the model, the
loss of a batch and the optimiser (the `TrainableMethod` hooks of `explore.training.trainer`),
and passes its per-view outputs through `gather_views` before any loss, so that across
processes the loss sees the global batch. `predict_to_file` writes the map of a scene of any
size tile by tile.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClusterMixin
from torch import nn

from explore.augment import AugmentationPool, looks_like_glyphs
from explore.compute import limit_threads, resolve_device
from explore.data.images import ImageSet
from explore.data.preprocess import SpectralPreprocessor
from explore.data.scene import Scene
from explore.errors import CheckpointError, DataError
from explore.losses import scan_loss_parts
from explore.models import build_backbone
from explore.training.callbacks import TrainingBudget
from explore.training.checkpoint import check_compatible, load_checkpoint
from explore.training.distributed import gather_rows
from explore.training.history import RunHistory
from explore.training.neighbours import NeighbourTable
from explore.training.sources import DataSource, ImageSource, SceneSource
from explore.training.trainer import CallbackLike, Trainer


class DeepClusteringMethod(ClusterMixin, BaseEstimator):
    """Shared machinery of the deep methods, a scikit-learn estimator (`get_params`,
    `set_params` and `sklearn.base.clone` work; constructor arguments are stored untouched).
    Hyper-parameters come from a named configuration (`CONFIGS[config]`) overridden by any
    keyword given explicitly (None = take the config's); `settings()` resolves them, and
    `settings_` holds what the last `fit` trained with."""

    name: ClassVar[str] = "deep"
    CONFIGS: ClassVar[dict[str, dict[str, Any]]] = {}
    DEFAULT_CONFIG: ClassVar[str] = "paper"
    SUPPORTS: ClassVar[tuple[str, ...]] = ("scene", "images")

    n_clusters: int
    config: str
    device: str
    seed: int
    train_on: str
    progress: bool | None

    INPUT_DEFAULTS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    """Per config, per input kind ("scene" or "images"): settings that differ by input, laid over
    the config once the input is known (in `fit`, or from a checkpoint)."""

    SHARED_SETTINGS: ClassVar[dict[str, Any]] = {"scan_epochs": 0, "scan_entropy_weight": 5.0}
    """Settings every config starts from (a config or an explicit argument overrides them): no
    neighbour stage (`scan_epochs`), and SCAN's entropy weight when there is one."""

    VIEW_POOLS: ClassVar[dict[str, str]] = {}
    """The augmentation pools the method draws its views from, as {attribute set by
    `build_model`: the constructor parameter naming it}. Saved with every checkpoint; a resumed
    run whose parameter was left to the config takes the saved pool back, so it goes on with the
    views it started with even after a default pool changed."""

    # ------------------------------------------------------------------ settings
    def _input_kind(self) -> str | None:
        """ "scene" or "images" once the input is known (`fit`, a checkpoint), else None."""
        kind = getattr(self, "input_kind_", None)
        if kind is None and getattr(self, "input_shape_", None) is not None:
            kind = "scene" if len(self.input_shape_) == 1 else "images"
        return kind

    def settings(self) -> dict[str, Any]:
        """The effective hyper-parameters: the named config with explicit overrides applied."""
        if self.config not in self.CONFIGS:
            raise DataError(
                f"unknown config {self.config!r} for {self.name}; "
                f"choose one of {sorted(self.CONFIGS)}"
            )
        resolved = {**self.SHARED_SETTINGS, **self.CONFIGS[self.config]}
        kind = self._input_kind()
        if kind is not None:
            resolved.update(self.INPUT_DEFAULTS.get(self.config, {}).get(kind, {}))
        for key in resolved:
            value = getattr(self, key, None)
            if value is not None:
                resolved[key] = value
        if getattr(self, "epochs", None) is not None and getattr(self, "budget", None) is None:
            resolved["budget"] = None  # epochs asked for are trained, not fitted to a default
        return resolved

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Constructor arguments for scikit-learn's `get_params` / `set_params` / `clone`: a
        subclass passing `**kwargs` to its parent (SACC, S3OCNet) gets the parent's too."""
        import inspect

        names: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object or klass is BaseEstimator:
                continue
            for parameter in inspect.signature(init).parameters.values():
                variadic = parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
                if parameter.name != "self" and not variadic and parameter.name not in names:
                    names.append(parameter.name)
        return sorted(names)

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

    def _build_backbone(self, name: str, in_channels: int) -> nn.Module:
        """The named backbone; for a scene, DataError when the patches are smaller than a
        dense-capable backbone's receptive field (before any training)."""
        backbone = build_backbone(name, in_channels)
        check = getattr(backbone, "check_patch_size", None)
        is_scene = len(getattr(self, "input_shape_", (0,))) == 1
        patch_size = self.settings().get("patch_size")
        if callable(check) and is_scene and patch_size is not None:
            check(int(patch_size))
        return backbone

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def configure_optimizers(self, model: nn.Module):
        raise NotImplementedError

    @staticmethod
    def gather_views(*views: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each view's (n, ...) outputs from every process, stacked in rank order (the views
        themselves in a single process), with gradients flowing back to this process's rows.

        The one place where outputs cross processes: every method passes its per-view outputs
        here before its losses, so negatives (NT-Xent), cluster columns (CC), batch statistics
        (cross-correlation) and Sinkhorn targets span the global batch, and each process
        computes the loss one process would compute on that batch."""
        return tuple(gather_rows(view) for view in views)

    def architecture(self, in_channels: int) -> dict[str, Any]:
        """What a checkpoint must match to be loaded into this method's model."""
        settings = self.settings()
        return {
            "n_clusters": self.n_clusters,
            "in_channels": in_channels,
            "backbone": settings.get("backbone"),
            "patch_size": settings.get("patch_size"),
        }

    # ------------------------------------------------------------------ data
    def _check_supports(self, data: Scene | ImageSet) -> str:
        kind = (
            "scene" if isinstance(data, Scene) else "images" if isinstance(data, ImageSet) else ""
        )
        if not kind:
            raise DataError(
                f"{self.name} clusters a Scene or an ImageSet; got {type(data).__name__}"
            )
        if kind not in self.SUPPORTS:
            raise DataError(
                f"{self.name} does not cluster {'image sets' if kind == 'images' else 'scenes'}"
            )
        return kind

    def _fit_source(self, data: Scene | ImageSet) -> DataSource:
        """Fit the input preprocessing on `data` and wrap it as the trainer's source."""
        kind = self.input_kind_ = self._check_supports(data)
        device = resolve_device(self.device)
        if kind == "images":
            self.preprocessor_ = None
            self.input_shape_ = tuple(data.image_shape)
            self.glyph_like_ = looks_like_glyphs(data.images)
            return ImageSource(data, device=device)
        settings = self.settings()
        n_components = settings["n_components"]
        if n_components is not None:
            n_components = min(n_components, data.n_bands)
        self.preprocessor_ = SpectralPreprocessor(n_components, seed=self.seed).fit(data)
        self.input_shape_ = (self.preprocessor_.n_outputs,)
        return SceneSource(
            data,
            patch_size=settings["patch_size"],
            device=device,
            train_on=self.train_on,
            preprocessor=self.preprocessor_,
        )

    def _source_for(self, data: Scene | ImageSet, *, tile_size: int | None = None) -> DataSource:
        """A source over new data, preprocessed exactly as the training data was (a lazy scene
        tile by tile, `tile_size` pixels a side)."""
        if not hasattr(self, "trainer_"):
            raise DataError(f"{self.name} is not fitted: call fit(data) or from_checkpoint(path)")
        kind = self._check_supports(data)
        device = self.trainer_.device
        if kind == "images":
            if self.preprocessor_ is not None or tuple(data.image_shape) != self.input_shape_:
                raise DataError(
                    f"images of shape {tuple(data.image_shape)} do not match the training "
                    f"input {self.input_shape_}; resize them first"
                )
            return ImageSource(data, device=device)
        if self.preprocessor_ is None:
            raise DataError(f"this {self.name} model was trained on images, not on a scene")
        return SceneSource(
            data,
            patch_size=self.settings()["patch_size"],
            device=device,
            preprocessor=self.preprocessor_,
            tile_size=tile_size,
        )

    def make_trainer(
        self,
        data: Scene | ImageSet,
        *,
        callbacks: Iterable[CallbackLike] = (),
        checkpoint_path: str | Path | None = None,
    ) -> Trainer:
        """Fit the input preprocessing on `data` and return a ready `Trainer` (not yet run):
        call `trainer.run_epoch()` for step-by-step use, or `trainer.fit()`."""
        self._check_supports(data)
        self._validate(data.n_pixels if isinstance(data, Scene) else data.n_images)
        source = self._fit_source(data)
        settings = self.settings_ = self.settings()
        self._check_scan_settings(settings)
        self.neighbour_table_: NeighbourTable | None = None  # mined when the stage starts
        budget = settings.get("budget")
        if budget is not None:
            callbacks = [*callbacks, TrainingBudget(budget)]
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
            samples_per_epoch=getattr(self, "samples_per_epoch", None),
            metadata={
                "dataset": data.name,
                "n_clusters": self.n_clusters,
                "config": self.config,
                "settings": settings,
                "class_names": list(data.class_names),
            },
        )
        self.trainer_ = trainer
        return trainer

    def checkpoint_extra(self) -> dict[str, Any]:
        """Saved with every checkpoint: constructor parameters, input shape, preprocessing and
        the feature clusters (`assign="kmeans"`) of the epoch."""
        params = {k: v for k, v in self.get_params().items() if _is_plain(v)}
        extra: dict[str, Any] = {
            "params": params,
            "input_shape": list(self.input_shape_),
            "preprocessor": None if self.preprocessor_ is None else self.preprocessor_.state_dict(),
        }
        if getattr(self, "feature_centres_", None) is not None:
            extra["feature_centres"] = self.feature_centres_.clone()
            extra["feature_temperature"] = float(self.feature_temperature_)
        if getattr(self, "neighbour_table_", None) is not None:
            extra["neighbour_table"] = self.neighbour_table_.state_dict()
        pools = {
            attribute: getattr(self, attribute).to_dict()
            for attribute in self.VIEW_POOLS
            if isinstance(getattr(self, attribute, None), AugmentationPool)
        }
        if pools:
            extra["pools"] = pools
        return extra

    def restore_extra(self, extra: dict[str, Any]) -> None:
        """Take back from a checkpoint what `checkpoint_extra` saved beyond the weights."""
        centres = extra.get("feature_centres")
        if centres is not None:
            self.feature_centres_ = torch.as_tensor(centres, dtype=torch.float32)
            self.feature_temperature_ = float(extra.get("feature_temperature", 1.0))
        table = extra.get("neighbour_table")
        self.neighbour_table_ = None if table is None else NeighbourTable.from_state_dict(table)
        saved_pools = extra.get("pools") or {}
        for attribute, parameter in self.VIEW_POOLS.items():
            spec = saved_pools.get(attribute)
            if spec is not None and getattr(self, parameter, None) is None:
                try:
                    setattr(self, attribute, AugmentationPool.from_dict(spec))
                except (DataError, TypeError, ValueError, KeyError) as error:
                    raise CheckpointError(
                        f"the checkpoint's {parameter} pool cannot be rebuilt: {error}"
                    ) from None

    # ------------------------------------------------------------------ spatial views
    def _neighbour_radius(self) -> int:
        """The radius r of the spatial views (setting `neighbour_radius`; 0 = none): the
        partner view of a pixel is cut from a pixel drawn from the (2r + 1)^2 window around
        it, so neighbouring pixels (mostly of one material) are pulled together."""
        radius = self.settings().get("neighbour_radius", 0)
        if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
            raise DataError(f"neighbour_radius must be an integer >= 0; got {radius!r}")
        if radius and len(getattr(self, "input_shape_", (0,))) != 1:
            raise DataError(
                f"neighbour_radius={radius} needs a scene (pixels have spatial neighbours); "
                "an image set has none: use neighbour_radius=0"
            )
        return radius

    def training_inputs(
        self, source: DataSource, indices: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """What `training_loss` gets for a batch of item indices: the items; with spatial views
        (`neighbour_radius` r > 0), followed by the patches of one pixel drawn from each one's
        (2r + 1)^2 window, (2B, C, P, P). Split again by `view_sources`."""
        if self.in_neighbour_stage():
            partners = self._neighbour_table(source).partners(indices, generator)
            return torch.cat([source.batch(indices), source.batch(partners)])
        radius = self._neighbour_radius()
        if radius == 0:
            return source.batch(indices)
        if not isinstance(source, SceneSource):
            raise DataError("spatial views (neighbour_radius > 0) need a scene source")
        neighbours = source.spatial_neighbours(indices, radius, generator)
        return torch.cat([source.batch(indices), source.batch(neighbours)])

    def view_sources(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The items the first view is drawn from and those its partner view is drawn from:
        the batch itself twice, or with spatial views the pixels and their neighbours."""
        if self._neighbour_radius() > 0:
            anchors, partners = batch.chunk(2)
            return anchors, partners
        return batch, batch

    # ------------------------------------------------------------------ neighbour stage (SCAN)
    SCAN_NEIGHBOURS: ClassVar[int] = 20
    """Neighbours mined per training item for the neighbour stage (SCAN's k)."""

    @staticmethod
    def _check_scan_settings(settings: dict[str, Any]) -> None:
        epochs, weight = settings["scan_epochs"], settings["scan_entropy_weight"]
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise DataError(f"scan_epochs must be an integer >= 0; got {epochs!r}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
            raise DataError(f"scan_entropy_weight must be a number >= 0; got {weight!r}")

    def in_neighbour_stage(self) -> bool:
        """Whether the epoch being trained belongs to the neighbour stage: the last
        `scan_epochs` epochs of the run (the first epoch always trains by the method's own loss,
        so there are features to mine). A budget that shortens the run moves the stage with
        its end."""
        stage = self.settings().get("scan_epochs") or 0
        trainer = getattr(self, "trainer_", None)
        if not stage or trainer is None:
            return False
        return trainer.epoch >= max(1, trainer.epochs - stage)

    def _neighbour_table(self, source: DataSource) -> NeighbourTable:
        """The training items' nearest neighbours in the backbone's feature space, mined once
        when the stage starts (or restored from the checkpoint of an epoch inside it)."""
        if getattr(self, "neighbour_table_", None) is None:
            items = source.train_indices()
            features = self.trainer_.embed_items(items.numpy(), source)
            table = NeighbourTable.mine(
                items, features.to(self.trainer_.device), self.SCAN_NEIGHBOURS
            )
            self.neighbour_table_ = table
        return self.neighbour_table_

    def neighbour_view_pool(self) -> Any:
        """The augmentation pool both views of the neighbour stage are drawn from (the
        method's gentle views)."""
        raise DataError(f"{self.name} has no neighbour stage (scan_epochs must be 0)")

    def batch_loss(
        self, model: nn.Module, inputs: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """The loss of one training batch: the method's own (`training_loss`), or in the
        neighbour stage SCAN's neighbour consistency (Van Gansbeke et al., 2020): an item and
        one of its mined neighbours, each seen through the method's gentle pool, should get the
        same confident cluster, against the entropy of the batch's mean assignment
        (`scan_entropy_weight`, 5 in the paper). Every method whose model gives soft
        assignments (N, K) can end its training this way."""
        if not self.in_neighbour_stage():
            return self.training_loss(model, inputs, generator)
        anchors, partners = inputs.chunk(2)
        pool = self.neighbour_view_pool()
        soft = model(torch.cat([pool(anchors, generator), pool(partners, generator)]))
        soft_anchors, soft_partners = self.gather_views(*soft.chunk(2))
        weight = float(self.settings()["scan_entropy_weight"])
        return scan_loss_parts(soft_anchors, soft_partners, weight)

    # ------------------------------------------------------------------ feature clusters
    ASSIGN_CHOICES: ClassVar[tuple[str, ...]] = ("head", "kmeans")

    @property
    def clusters_features(self) -> bool:
        """Whether clusters come from k-means on the backbone's features (`assign="kmeans"`)
        instead of the argmax of the cluster head (`assign="head"`, the published form)."""
        assign = self.settings().get("assign", "head")
        if assign not in self.ASSIGN_CHOICES:
            raise DataError(f"assign must be one of {self.ASSIGN_CHOICES}; got {assign!r}")
        return assign == "kmeans"

    def fit_feature_clusters(self, features: torch.Tensor) -> None:
        """K-means (K = n_clusters, 10 restarts, this method's seed) on the L2-normalised
        features (n, d) of the training items; the centres assign every item afterwards."""
        from sklearn.cluster import KMeans

        rows = F.normalize(features.float(), dim=1).cpu().numpy()
        if len(rows) < self.n_clusters:
            raise DataError(f"{len(rows)} items cannot make {self.n_clusters} feature clusters")
        with limit_threads():
            kmeans = KMeans(n_clusters=self.n_clusters, n_init=10, random_state=self.seed)
            kmeans.fit(rows)
        self.feature_centres_ = torch.from_numpy(kmeans.cluster_centers_.astype(np.float32))
        nearest = kmeans.transform(rows).min(axis=1) ** 2
        self.feature_temperature_ = float(max(nearest.mean(), 1e-6))

    def _feature_distances(self, features: torch.Tensor) -> torch.Tensor:
        if getattr(self, "feature_centres_", None) is None:
            raise DataError("feature clusters are not fitted yet: train the method first")
        rows = F.normalize(features.float(), dim=1)
        centres = self.feature_centres_.to(rows.device)
        return torch.cdist(rows, centres).pow(2)

    def feature_labels(self, features: torch.Tensor) -> torch.Tensor:
        """Nearest feature-cluster centre (n,) of backbone features (n, d)."""
        return self._feature_distances(features).argmin(dim=1)

    def feature_memberships(self, features: torch.Tensor) -> torch.Tensor:
        """Soft feature-cluster memberships (n, K): softmax of minus the squared distances to
        the centres over the mean squared distance to the nearest centre at fitting time."""
        return torch.softmax(-self._feature_distances(features) / self.feature_temperature_, 1)

    def fit(
        self,
        data: Scene | ImageSet,
        *,
        callbacks: Iterable[CallbackLike] = (),
        checkpoint_path: str | Path | None = None,
        resume: bool = False,
    ) -> DeepClusteringMethod:
        """Train on `data` and assign every item: `labels_` is an (H, W) map of 0..K-1 for a
        scene, an (N,) vector for an image set.

        With `resume=True` and an existing `checkpoint_path`, training continues from it."""
        trainer = self.make_trainer(data, callbacks=callbacks, checkpoint_path=checkpoint_path)
        if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
            trainer.load_checkpoint(checkpoint_path)
        trainer.fit()
        return self.adopt_trainer(trainer)

    def adopt_trainer(self, trainer: Trainer) -> DeepClusteringMethod:
        """Take a trainer's results as this method's fit (`history_`, `model_`, `labels_`): for
        callers that drive the trainer themselves (step by step, from a thread, resumed).

        In a distributed run only rank 0 assigns: `labels_` is None in the other processes."""
        history = trainer.history
        self.trainer_ = trainer
        self.history_: RunHistory = history
        self.model_ = trainer.model
        finished = (
            history.last is not None
            and history.last.epoch == trainer.epoch
            and not trainer.stop_requested
            and history.last.assignments is not None
        )
        if finished:
            self.labels_ = history.last.assignments  # type: ignore[union-attr]
        else:
            self.labels_ = trainer.assign() if trainer.is_main_process else None
        return self

    def fit_predict(self, data: Scene | ImageSet, **kwargs: Any) -> np.ndarray:
        return self.fit(data, **kwargs).labels_

    def predict(self, data: Scene | ImageSet) -> np.ndarray:
        """Cluster of every pixel (H, W) or image (N,) of `data`: the training data or data
        never seen (same bands / image size). Batch by batch: memory bounded by the batch."""
        return self.trainer_.assign(self._source_for(data))

    def predict_to_file(
        self, data: Scene, path: str | Path, *, tile_size: int | None = None
    ) -> Path:
        """Write the cluster of every pixel of `data` to `path` as an (H, W) int16 map, tile by
        tile: a `.npy` file (memory-mapped while it fills) or, for `.tif` / `.tiff`, a GeoTIFF
        (rasterio; georeferenced like `data` when it was read from a GeoTIFF). A lazy scene is
        read tile by tile with a halo, so neither the scene nor the map need fit in memory; a
        dense-capable model computes each tile in one pass. The file appears under its name
        only once complete (written to a temporary name, then renamed). `tile_size`: pixels a
        side of a tile (default: 256 for dense inference on a CPU, 1024 on a GPU, within about
        64 MB of raw cube).

        Inside a process group (`torchrun ... -m explore predict`), every process must call it:
        each computes its share of the tiles (tile k goes to rank k % world_size) and writes
        them into the one staged map, which rank 0 renames into place once every process is
        done (`explore.data.lazy.label_map_file`)."""
        from explore.data.lazy import label_map_file
        from explore.training.distributed import all_gather_objects, process_info

        if not isinstance(data, Scene):
            raise DataError(f"predict_to_file writes scene maps; got {type(data).__name__}")
        if self.n_clusters > np.iinfo(np.int16).max:
            raise DataError(f"n_clusters={self.n_clusters} does not fit an int16 map")
        source = self._source_for(data, tile_size=tile_size)
        process = process_info()
        shard = (process.rank, process.world_size) if process.distributed else None
        with label_map_file(
            path,
            data.shape[:2],
            np.int16,
            like=data,
            rank=process.rank,
            world_size=process.world_size,
            gather=all_gather_objects if process.distributed else None,
        ) as out:
            self.trainer_.assign(source, out=out, shard=shard)
        return Path(path)

    def predict_proba(self, data: Scene | ImageSet) -> np.ndarray:
        """Soft assignments (items, K); a scene's pixels in row-major order."""
        return self.trainer_.predict_proba(self._source_for(data)).numpy()

    def transform(self, data: Scene | ImageSet) -> np.ndarray:
        """Backbone features (items, d), the embedding used by UMAP views and mixtures."""
        return self.trainer_.embed(self._source_for(data)).numpy()

    # ------------------------------------------------------------------ saved runs
    STRUCTURE_KEYS: ClassVar[tuple[str, ...]] = ("backbone", "patch_size")
    """Settings that shape the network and are saved in a checkpoint's architecture."""

    @classmethod
    def saved_structure(cls, state: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The network-shaping settings (`STRUCTURE_KEYS`) a checkpoint was made with where they
        differ from what its config now says and `params` (constructor arguments) leave them to
        that same config: a checkpoint loads with the backbone and patch size it was trained with
        even after the config's defaults changed (SSCC's fast config used `light` before dense
        inference). Another config gets nothing here (its mismatch is reported on loading)."""
        accepted = set(cls._get_param_names())
        saved_params = (state.get("extra") or {}).get("params") or {}
        saved_config = saved_params.get("config")
        if params.get("config", saved_config) != saved_config:
            return {}
        defaults = dict(cls.CONFIGS.get(str(saved_config), {}))
        input_shape = (state.get("extra") or {}).get("input_shape") or ()
        kind = "scene" if len(input_shape) == 1 else "images"
        defaults.update(cls.INPUT_DEFAULTS.get(str(saved_config), {}).get(kind, {}))
        architecture = state.get("architecture") or {}
        return {
            key: architecture[key]
            for key in cls.STRUCTURE_KEYS
            if key in accepted
            and params.get(key) is None
            and defaults.get(key) is not None  # None: resolved by input (CC's backbone)
            and architecture.get(key) not in (None, defaults[key])
        }

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "auto") -> DeepClusteringMethod:
        """A fitted method rebuilt from a checkpoint (weights, preprocessing, settings)."""
        state = load_checkpoint(path)
        extra = state.get("extra") or {}
        if "params" not in extra or "input_shape" not in extra:
            raise CheckpointError(f"checkpoint {path} lacks the method's parameters")
        params = dict(extra["params"])
        params["device"] = device
        if "assign" not in params and cls._accepts("assign"):
            params["assign"] = "head"  # made before feature clusters existed: it used the head
        if "neighbour_radius" not in params and cls._accepts("neighbour_radius"):
            params["neighbour_radius"] = 0  # made before spatial views: views of the pixel
        params.update(cls.saved_structure(state, params))
        check_compatible(state, cls.name, {"n_clusters": params.get("n_clusters")})
        method = cls(**params)
        input_shape = tuple(int(v) for v in extra["input_shape"])
        torch_device = resolve_device(device)
        if extra.get("preprocessor") is None:
            placeholder = ImageSet(
                np.zeros((2, *input_shape), dtype=np.float32), name="placeholder"
            )
            method.preprocessor_ = None
            source: DataSource = ImageSource(placeholder, device=torch_device)
        else:
            method.preprocessor_ = SpectralPreprocessor.from_state_dict(extra["preprocessor"])
            patch_size = method.settings()["patch_size"]
            # The trainer needs a source to build on; predictions use the data given later.
            cube = np.zeros((patch_size, patch_size, input_shape[0]), dtype=np.float32)
            source = SceneSource(
                Scene(cube, name="placeholder"), patch_size=patch_size, device=torch_device
            )
        method.input_shape_ = input_shape
        check_compatible(state, cls.name, method.architecture(source.in_channels))
        trainer = Trainer(
            method,
            source,
            epochs=max(int(state.get("epochs", 1)), 1),
            batch_size=2,
            device=device,
            seed=method.seed,
            single_process=True,  # inference: each process of a sharded predict has its copy
        )
        try:
            trainer.model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise CheckpointError(f"checkpoint {path} does not fit the model: {error}") from error
        trainer.epoch = int(state["epoch"])
        method.restore_extra(extra)
        if method.clusters_features and getattr(method, "feature_centres_", None) is None:
            raise CheckpointError(f"checkpoint {path} lacks the feature clusters it assigns by")
        method.trainer_ = trainer
        method.model_ = trainer.model
        return method

    @classmethod
    def _accepts(cls, name: str) -> bool:
        """Whether the constructor of this class (or a parent's) takes argument `name`."""
        return name in cls._get_param_names()


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False
