"""`Trainer`: the one training loop every deep method uses.

The method supplies the model, the optimiser and schedule, and the loss of a batch (which draws
its own augmented views); the trainer owns the device, seeds, mixed precision on GPU, progress,
a thread-safe stop request, the items of each epoch (every training item, or `samples_per_epoch`
random draws on large sources), per-epoch evaluation (every item, or a fixed sample on sources
above `max_eval_items`; a scene is assigned tile by tile, one full-image pass per tile, when the
model's backbone is dense-capable, else batch by batch of patches), callbacks, NaN handling and
checkpoints that resume exactly. Before the first epoch it checks that the checkpoint's
filesystem has room for the run's checkpoints (`OutputError` otherwise); a checkpoint write that
fails midway (disk full) raises `OutputError` naming the last good checkpoint, which is kept.

Across processes (`torchrun`, `explore.training.distributed`), the same loop runs in every
process: each draws the same shuffled order and takes its share of every global batch of
`batch_size` items, the model is wrapped in DistributedDataParallel, and only rank 0 evaluates,
calls the callbacks and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from explore.compute import resolve_device, training_threads
from explore.data.lazy import release_pages
from explore.errors import CheckpointError, DataError, OutputError, TrainingDivergedError
from explore.training.callbacks import Callback, Checkpointing, ProgressBars, as_callbacks
from explore.training.checkpoint import (
    check_compatible,
    estimate_checkpoint_bytes,
    history_from_state,
    history_to_state,
    load_checkpoint,
    save_checkpoint,
)
from explore.training.distributed import (
    DistributedModel,
    ProcessInfo,
    all_gather_objects,
    barrier,
    device_for_process,
    process_info,
)
from explore.training.history import EpochRecord, RunHistory
from explore.training.sources import DataSource

CallbackLike = Callback | Callable[[EpochRecord], None]
"""A `Callback`, or a function of each epoch's record (wrapped in a `FunctionCallback`)."""

MAX_EPOCH_ITEMS = 1 << 20
"""Sources with more training items draw this many per epoch unless `samples_per_epoch` says."""
MAX_EVAL_ITEMS = 1 << 22
"""Above this many items (a 2048 x 2048 scene) an epoch is evaluated on a fixed sample."""
EVAL_SAMPLE_SIZE = 1 << 16
"""Items of that fixed evaluation sample."""
_AUGMENT_SEED_STRIDE = 1_000_003  # rank r augments with seed + 1 + r * stride
FEATURE_FIT_ITEMS = 100_000
"""Training items whose features fit feature clusters (`assign="kmeans"`); more: a sample."""


class TrainableMethod(Protocol):
    """What a method (or another training task: `explore.transfer.finetune`) gives the trainer
    (see `explore.methods.base.DeepClusteringMethod`). Optional hooks, read when present:
    `training_inputs(source, indices, generator)`, what `training_loss` gets for a batch (e.g.
    images and their labels for a supervised loss); `batch_loss`, called instead of
    `training_loss` when present (a method's neighbour stage); `assigns_each_epoch = False`, no
    per-epoch assignment (a task without clusters: its records hold losses only);
    `clusters_features`, `n_clusters`, `checkpoint_extra` / `restore_extra`."""

    name: str

    def build_model(self, in_channels: int) -> nn.Module: ...

    def configure_optimizers(
        self, model: nn.Module
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]: ...

    def training_loss(
        self, model: nn.Module, batch: Any, generator: torch.Generator
    ) -> dict[str, torch.Tensor]: ...

    def architecture(self, in_channels: int) -> dict[str, Any]: ...


class Trainer:
    """Train `method` on `source` for `epochs` epochs of `batch_size` items.

    Each epoch shuffles the training items (drop last incomplete batch, as the reference code),
    runs the method's loss on every batch, steps the schedule, then assigns every item (batch
    by batch, in eval mode; skipped for a method with `assigns_each_epoch = False`) and hands
    an `EpochRecord` (each part of the loss, averaged over the batches) to each callback. With
    `checkpoint_path`, a checkpoint is written after every epoch.

    Large sources: `samples_per_epoch` makes an epoch N items drawn uniformly at random (with
    replacement, so its cost does not depend on the source's size); by default an epoch visits
    every training item, or draws `MAX_EPOCH_ITEMS` when there are more. Sources of more than
    `max_eval_items` items are evaluated each epoch on a fixed random sample of
    `eval_sample_size` items: the record then has no map (`assignments` None), its cluster sizes
    count the sample and its metrics score the sample's labelled items.

    Disk space: with `checkpoint_path`, `fit` first checks that the folder's filesystem has
    room for two checkpoints of the last epoch (the previous one stays until the new one is
    complete; `estimated_checkpoint_bytes`) plus `output_reserve_bytes` (set it to what the
    caller writes next to the checkpoint: the CLI reserves the history and the labels).

    Across processes, `batch_size` is the global batch (each process takes batch_size /
    world_size items, so the loss sees the same batch whatever the number of processes);
    CUDA runs convert BatchNorm to SyncBatchNorm (`sync_batchnorm`, default on CUDA).
    `single_process=True` makes a trainer that ignores the process group: each process holds
    its own copy of the model (a sharded prediction, or an extractor fine-tuned per process).

    Whole-source passes (`assign`, `predict_proba`, `embed`, the per-epoch map) run densely
    when the model is dense-capable and the source is a scene (`uses_dense_inference`;
    `dense_inference=False` forces the patch path, which gives the same outputs). Training
    batches are always patches. `assign_seconds` holds each epoch's seconds of assigning every
    item (or the evaluation sample).
    """

    def __init__(
        self,
        method: TrainableMethod,
        source: DataSource,
        *,
        epochs: int,
        batch_size: int,
        device: str | torch.device = "auto",
        seed: int = 0,
        callbacks: Iterable[CallbackLike] = (),
        checkpoint_path: str | Path | None = None,
        progress: bool | None = None,
        mixed_precision: bool | None = None,
        eval_batch_size: int = 1024,
        metadata: dict[str, Any] | None = None,
        samples_per_epoch: int | None = None,
        max_eval_items: int = MAX_EVAL_ITEMS,
        eval_sample_size: int = EVAL_SAMPLE_SIZE,
        sync_batchnorm: bool | None = None,
        dense_inference: bool = True,
        single_process: bool = False,
    ) -> None:
        if epochs < 1:
            raise DataError(f"epochs must be >= 1; got {epochs}")
        if batch_size < 2:
            raise DataError(f"batch_size must be >= 2; got {batch_size}")
        if samples_per_epoch is not None and samples_per_epoch < 2:
            raise DataError(f"samples_per_epoch must be >= 2 (or None); got {samples_per_epoch}")
        if eval_sample_size < 1:
            raise DataError(f"eval_sample_size must be >= 1; got {eval_sample_size}")
        self.method = method
        self.source = source
        self.epochs = epochs
        self.batch_size = batch_size
        # A trainer for inference only (a checkpoint loaded in each process of a sharded
        # prediction) acts as one process, even inside a process group.
        self.process = ProcessInfo() if single_process else process_info()
        self.device = device_for_process(resolve_device(device))
        self.seed = seed
        self.samples_per_epoch = samples_per_epoch
        self.max_eval_items = max_eval_items
        self.eval_sample_size = eval_sample_size
        # The caller's callbacks (functions allowed), then the trainer's own: the checkpoint
        # after them (so it keeps their state with the epoch they saw), then the bars.
        self.callbacks: list[CallbackLike] = list(callbacks)
        as_callbacks(self.callbacks)  # a non-callable fails here, not after an epoch
        self._checkpointing = Checkpointing()
        self._progress_bars = ProgressBars()
        self._wrapped: tuple[tuple[CallbackLike, ...], list[Callback]] | None = None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.progress = progress
        self.eval_batch_size = eval_batch_size
        self.dense_inference = dense_inference
        self.assign_seconds: list[float] = []
        self.mixed_precision = (
            self.device.type == "cuda" if mixed_precision is None else mixed_precision
        )
        self._stop = threading.Event()
        self.output_reserve_bytes = 0
        self._checkpoint_epoch: int | None = None  # epoch of the last checkpoint written / read

        n_train = source.n_train
        if n_train < 2:
            raise DataError(f"need at least 2 training items; got {n_train}")
        if n_train < batch_size:
            self.batch_size = n_train
        world_size = self.process.world_size
        if world_size > 1:
            if batch_size % world_size:
                raise DataError(
                    f"batch_size {batch_size} is the global batch: it must be a multiple of the "
                    f"{world_size} processes (each takes batch_size / {world_size} items)"
                )
            self.batch_size -= self.batch_size % world_size
            if self.batch_size // world_size < 2:
                raise DataError(
                    f"a global batch of {self.batch_size} leaves fewer than 2 items to each of "
                    f"the {world_size} processes: use a larger batch or fewer processes"
                )

        torch.manual_seed(seed)
        model = method.build_model(source.in_channels)
        use_sync = self.device.type == "cuda" if sync_batchnorm is None else sync_batchnorm
        if world_size > 1 and use_sync:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model.to(self.device)
        self._optimizers: tuple[Any, Any] | None = None  # built on first use (`optimizer`)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.mixed_precision and self.device.type == "cuda"
        )
        self.shuffle_generator = torch.Generator().manual_seed(seed)
        self.augment_generator = torch.Generator(device=self.device).manual_seed(
            self._augment_seed(self.process.rank)
        )
        # What `training_loss` gets: the model, or its DistributedDataParallel wrapper.
        self.training_model: Any = (
            DistributedModel(self.model, self.device) if world_size > 1 else self.model
        )
        self.epoch = 0
        run_metadata: dict[str, Any] = {"method": method.name, "seed": seed, **(metadata or {})}
        if world_size > 1:
            run_metadata["processes"] = world_size
        self.history = RunHistory(run_metadata)
        self._eval_sample: np.ndarray | None = None
        self._feature_sample: np.ndarray | None = None

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The method's optimiser, built on first use: a trainer that only predicts (a
        checkpoint loaded by `from_checkpoint`) never builds one, and building the first
        optimiser of a process imports torch._dynamo (about 1.2 s of `explore predict`)."""
        return self._built_optimizers()[0]

    @property
    def scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        """The method's learning-rate schedule (None without one), built with the optimiser."""
        return self._built_optimizers()[1]

    def _built_optimizers(self) -> tuple[Any, Any]:
        if self._optimizers is None:
            self._optimizers = self.method.configure_optimizers(self.model)
        return self._optimizers

    def _augment_seed(self, rank: int) -> int:
        return self.seed + 1 + rank * _AUGMENT_SEED_STRIDE

    @property
    def is_main_process(self) -> bool:
        """Rank 0 (always, in a single process): evaluates, calls callbacks, writes."""
        return self.process.is_main

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask training to end after the current batch (safe from any thread)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ training
    def fit(self) -> RunHistory:
        """Train until `epochs` epochs are done or a stop is requested. Callbacks see the fit
        start (`Checkpointing` checks the space its checkpoints need there) and end."""
        self._stop.clear()
        self._dispatch("on_fit_start")
        try:
            with self._threads():
                while self.epoch < self.epochs and not self._stop.is_set():
                    self.run_epoch()
        finally:
            self._dispatch("on_fit_end")
        return self.history

    def _all_callbacks(self) -> list[Callback]:
        """Every callback in calling order, wrapped once per change of `self.callbacks` (not
        once per batch: `on_batch_end` is dispatched on the hot path)."""
        given = tuple(self.callbacks)
        if self._wrapped is None or self._wrapped[0] != given:
            wrapped = [*as_callbacks(given), self._checkpointing, self._progress_bars]
            self._wrapped = (given, wrapped)
        return self._wrapped[1]

    def _dispatch(self, hook: str, *args: Any) -> None:
        """Call `hook` of every callback, in order; on rank 0 only unless the callback asks
        for every process."""
        for callback in self._all_callbacks():
            if callback.every_process or self.is_main_process:
                getattr(callback, hook)(self, *args)

    def _threads(self) -> contextlib.AbstractContextManager:
        """torch's CPU threads while training on the CPU (`explore.compute.training_threads`)."""
        return training_threads() if self.device.type == "cpu" else contextlib.nullcontext()

    def _autocast(self):
        if not self.mixed_precision:
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def epoch_items(self) -> torch.Tensor:
        """This process's training items for the next epoch, in order (advances the shuffle
        generator): a shuffled order of every training item, or `samples_per_epoch` random
        draws, cut to whole global batches; with several processes, rank r takes positions
        r, r + world_size, ... of it (DistributedSampler's split of the same shuffled order)."""
        count = self.samples_per_epoch
        if count is None and self.source.n_train > MAX_EPOCH_ITEMS:
            count = MAX_EPOCH_ITEMS
        if count is None:
            indices = self.source.train_indices()
            order = indices[torch.randperm(len(indices), generator=self.shuffle_generator)]
        else:
            order = self.source.sample_train(count, self.shuffle_generator)
        n_batches = len(order) // self.batch_size
        order = order[: n_batches * self.batch_size]
        return order[self.process.rank :: self.process.world_size]

    def run_epoch(self) -> EpochRecord | None:
        """One epoch of training plus evaluation; None when a stop request cut it short (the
        model keeps the batches it trained on; the last checkpoint stays at the last full
        epoch, so a resume is exact). Across processes, every process must run it."""
        started = time.perf_counter()
        epoch = self.epoch + 1
        items = self.epoch_items()
        per_process = self.batch_size // self.process.world_size
        n_batches = len(items) // per_process
        totals: dict[str, float] = {}
        self.model.train()
        self._dispatch("on_epoch_start", epoch, n_batches)
        batch_loss = getattr(self.method, "batch_loss", self.method.training_loss)
        for batch_number in range(n_batches):
            batch_indices = items[batch_number * per_process : (batch_number + 1) * per_process]
            inputs = self._training_inputs(batch_indices)
            with self._autocast():
                parts = batch_loss(self.training_model, inputs, self.augment_generator)
            loss = parts["loss"]
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {loss.item()} at epoch {epoch}, batch {batch_number + 1}"
                    + (
                        f"; the last good checkpoint (epoch {self.epoch}) is kept at "
                        f"{self.checkpoint_path}"
                        if self.checkpoint_path and self.checkpoint_path.exists()
                        else ""
                    )
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            for key, value in parts.items():
                totals[key] = totals.get(key, 0.0) + value.detach().item()
            self._dispatch("on_batch_end", batch_number)
            if self._stop.is_set():
                return None
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch = epoch
        losses = {key: value / max(n_batches, 1) for key, value in totals.items()}
        if self.is_main_process and self.assigns_each_epoch:
            assignments, sizes, metrics = self._evaluate()
        else:
            assignments, sizes, metrics = None, [], {}
        record = EpochRecord(
            epoch=epoch,
            losses=losses,
            assignments=assignments,
            cluster_sizes=sizes,
            metrics=metrics,
            seconds=time.perf_counter() - started,
        )
        self.history.append(record)
        self._dispatch("on_epoch_end", record)  # the caller's callbacks, then the checkpoint
        barrier()
        return record

    def _evaluate(self) -> tuple[np.ndarray | None, list[int], dict[str, float]]:
        """(map or None, cluster sizes, metrics) of the model as it is now: every item, or the
        fixed evaluation sample on sources of more than `max_eval_items` items."""
        started = time.perf_counter()
        if self.clusters_features:
            self.fit_feature_clusters()
        if self.source.n_items <= self.max_eval_items:
            assignments = self.assign()
            self.assign_seconds.append(time.perf_counter() - started)
            counts = np.bincount(assignments.ravel(), minlength=self._n_outputs())
            return assignments, [int(c) for c in counts], self.source.score(assignments)
        if self._eval_sample is None:
            count = min(self.eval_sample_size, self.source.n_items)
            rng = np.random.default_rng(self.seed)
            self._eval_sample = np.sort(rng.choice(self.source.n_items, count, replace=False))
        labels = self.assign_items(self._eval_sample)
        self.assign_seconds.append(time.perf_counter() - started)
        counts = np.bincount(labels, minlength=self._n_outputs())
        metrics = self.source.score(labels, self._eval_sample)
        return None, [int(c) for c in counts], metrics

    def _n_outputs(self) -> int:
        return int(getattr(self.method, "n_clusters", 0))

    @property
    def assigns_each_epoch(self) -> bool:
        """Whether each epoch assigns (or samples) the items: the method's `assigns_each_epoch`
        (default True; False for a task without clusters, such as fine-tuning)."""
        return bool(getattr(self.method, "assigns_each_epoch", True))

    # ------------------------------------------------------------------ method hooks
    def _training_inputs(self, indices: torch.Tensor) -> torch.Tensor:
        """What `training_loss` gets for a batch of item indices: the method's
        `training_inputs` (e.g. SSCC's spatial-neighbour views) or the source's items."""
        hook = getattr(self.method, "training_inputs", None)
        if callable(hook):
            return hook(self.source, indices, self.augment_generator)
        return self.source.batch(indices)

    @property
    def clusters_features(self) -> bool:
        """Whether the method's clusters are found in its feature space (k-means on the
        backbone's features: `assign="kmeans"`) rather than read from its cluster head."""
        return bool(getattr(self.method, "clusters_features", False))

    def fit_feature_clusters(self) -> None:
        """Fit the method's feature clusters (`fit_feature_clusters`) on the backbone's
        features of the training items as the model is now: every one, or a fixed random
        sample of `FEATURE_FIT_ITEMS` on larger sources (the rest get the nearest centre)."""
        train = self.source.train_indices()
        if len(train) > FEATURE_FIT_ITEMS:
            if self._feature_sample is None:
                rng = np.random.default_rng(self.seed)
                chosen = rng.choice(len(train), FEATURE_FIT_ITEMS, replace=False)
                self._feature_sample = np.sort(train.numpy()[chosen])
            features = self.embed_items(self._feature_sample)
        elif self.source.n_items <= self.max_eval_items:
            features = self.embed()[train]
        else:
            features = self.embed_items(train.numpy())
        self.method.fit_feature_clusters(features)

    def embed_items(self, indices: np.ndarray, source: DataSource | None = None) -> torch.Tensor:
        """Backbone features (n, d) of the items `indices` only, patch by patch, on the CPU."""
        with self._evaluating():
            return torch.cat(
                [self.model.embed(x).float().cpu() for x in self._item_inputs(indices, source)]
            )

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[None]:
        """Eval mode, no gradients and the trainer's autocast; the training mode restored after."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                yield
        finally:
            self.model.train(was_training)

    def _item_inputs(
        self, indices: np.ndarray, source: DataSource | None
    ) -> Iterator[torch.Tensor]:
        """The inputs of the items `indices` (default source: the trainer's), a batch at a time."""
        source = source or self.source
        for start in range(0, len(indices), self.eval_batch_size):
            yield source.batch(
                torch.as_tensor(indices[start : start + self.eval_batch_size]).long()
            )

    # ------------------------------------------------------------------ inference
    def uses_dense_inference(self, source: DataSource | None = None) -> bool:
        """Whether whole-source passes (assign, predict_proba, embed) run densely: the model's
        backbone is dense-capable, the source serves padded tiles (a scene) and
        `dense_inference` is on. Otherwise they go patch by patch (same results)."""
        source = source or self.source
        return (
            self.dense_inference
            and bool(getattr(self.model, "dense_capable", False))
            and bool(getattr(source, "supports_dense", False))
        )

    @torch.no_grad()
    def predict_proba(self, source: DataSource | None = None) -> torch.Tensor:
        """Soft assignments (n_items, K) of every item, on the CPU."""
        return self._map(source, "proba")

    @torch.no_grad()
    def embed(self, source: DataSource | None = None) -> torch.Tensor:
        """Backbone features (n_items, d) of every item, on the CPU."""
        return self._map(source, "embed")

    def _label_dtype(self) -> type:
        return np.uint8 if self._n_outputs() <= 256 else np.int32

    def assign(
        self,
        source: DataSource | None = None,
        out: np.ndarray | None = None,
        shard: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """Hard cluster of every item, shaped like the source (an (H, W) map for a scene): tile
        by tile in one pass each when the model is dense-capable (`uses_dense_inference`),
        else batch by batch.

        `out` (C-contiguous, of the source's shape; e.g. a memory-mapped file) receives the
        labels instead of a new array, and is returned: with a lazy source the whole map never
        needs to fit in memory (its pages are released as it fills). `shard` (rank,
        world_size) assigns only that process's share of the tiles (batches); the rest of
        `out` is left as it is (the other processes fill it)."""
        source = source or self.source
        shape = tuple(source.assignment_shape)
        if out is None:
            result = np.empty(shape, dtype=self._label_dtype())
        else:
            if tuple(out.shape) != shape or not out.flags.c_contiguous:
                raise DataError(
                    f"out must be a C-contiguous array of shape {shape}; got shape "
                    f"{tuple(out.shape)}"
                )
            result = out
        flat = result.reshape(-1)
        outputs = self._outputs(source, "labels", shard)
        for number, (indices, labels) in enumerate(outputs, start=1):
            flat[indices.numpy()] = labels.numpy()
            if out is not None and number % 64 == 0:
                release_pages(result)
        return result

    def assign_items(self, indices: np.ndarray, source: DataSource | None = None) -> np.ndarray:
        """Hard cluster (n,) of the items `indices` only (e.g. a sample of a large scene)."""
        labels = []
        with self._evaluating():
            for inputs in self._item_inputs(indices, source):
                if self.clusters_features:
                    found = self.method.feature_labels(self.model.embed(inputs).float())
                else:
                    found = self.model(inputs).argmax(dim=1)
                labels.append(found.cpu().numpy())
        joined = np.concatenate(labels) if labels else np.empty(0, dtype=np.int64)
        return joined.astype(self._label_dtype())

    def _outputs(
        self, source: DataSource, what: str, shard: tuple[int, int] | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(item indices, outputs on the CPU) over every item of `source` (this process's
        share with `shard`), in eval mode (the training mode is restored afterwards). `what`:
        "labels" (argmax of the outputs), "proba" (the outputs) or "embed" (backbone features).

        Dense path: one `dense_forward` per padded tile (the backbone once over the tile, the
        heads per pixel); patch path: the model on batches of patches."""
        by_features = self.clusters_features and what in ("labels", "proba")
        embed = what == "embed" or by_features

        def finish(outputs: torch.Tensor) -> torch.Tensor:
            if by_features:
                features = outputs.float()
                if what == "labels":
                    return self.method.feature_labels(features)
                return self.method.feature_memberships(features)
            return outputs.argmax(dim=1) if what == "labels" else outputs.float()

        with self._evaluating():
            if self.uses_dense_inference(source):
                patch_size = int(source.patch_size)  # type: ignore[attr-defined]
                for indices, block in source.dense_tiles(shard):  # type: ignore[attr-defined]
                    outputs = self.model.dense_forward(block, patch_size, embed=embed)
                    yield indices, finish(outputs.reshape(len(indices), -1)).cpu()
                return
            for indices, inputs in source.eval_batches(self.eval_batch_size, shard):
                outputs = self.model.embed(inputs) if embed else self.model(inputs)
                yield indices, finish(outputs).cpu()

    def _map(self, source: DataSource | None, what: str) -> torch.Tensor:
        source = source or self.source
        result: torch.Tensor | None = None
        for indices, outputs in self._outputs(source, what):
            if result is None:
                result = torch.empty((source.n_items, *outputs.shape[1:]), dtype=outputs.dtype)
            result[indices] = outputs
        assert result is not None  # a source has at least one item
        return result

    # ------------------------------------------------------------------ checkpoints
    def _map_bytes(self) -> int:
        """Bytes of one epoch's map as the history keeps it (none on sampled sources)."""
        if self.source.n_items > self.max_eval_items or not self.assigns_each_epoch:
            return 0
        return self.source.n_items * np.dtype(self._label_dtype()).itemsize

    def estimated_history_bytes(self) -> int:
        """Upper bound of the run history after the last epoch (maps uncompressed, metadata)."""
        return self.epochs * (self._map_bytes() + 1024) + (64 << 10)

    def estimated_checkpoint_bytes(self) -> int:
        """Size of the checkpoint after the last epoch, estimated
        (`explore.training.checkpoint.estimate_checkpoint_bytes`)."""
        return estimate_checkpoint_bytes(self.model, self.method, self.estimated_history_bytes())

    def state_dict(self) -> dict[str, Any]:
        state = {
            "method": self.method.name,
            "architecture": self.method.architecture(self.source.in_channels),
            "epoch": self.epoch,
            "epochs": self.epochs,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "shuffle": self.shuffle_generator.get_state(),
                "augment": self.augment_generator.get_state(),
            },
            "history": history_to_state(self.history),
        }
        kept = {c.state_key: c.state_dict() for c in self._all_callbacks()}
        kept = {key: value for key, value in kept.items() if value}
        if kept:
            state["callbacks"] = kept
        if self.process.distributed:  # a collective: every process gives its own stream
            state["rng"]["augment_ranks"] = all_gather_objects(self.augment_generator.get_state())
        extra = getattr(self.method, "checkpoint_extra", None)
        if callable(extra):
            state["extra"] = extra()
        return state

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a checkpoint (atomically); across processes every process must call it and
        only rank 0 writes."""
        state = self.state_dict()
        if self.is_main_process:
            try:
                save_checkpoint(path, state)
            except OutputError as error:
                if self._checkpoint_epoch is not None and Path(path).is_file():
                    kept = f"the last good checkpoint (epoch {self._checkpoint_epoch}) is kept"
                elif Path(path).is_file():
                    kept = "the file already there is unchanged"
                else:
                    kept = "no checkpoint of this run was written yet"
                raised = OutputError(
                    f"cannot write the epoch {self.epoch} checkpoint {path}: "
                    f"{getattr(error, 'reason', error)}; {kept} and nothing partial is left"
                )
                raised.errno = error.errno
                raise raised from error
            self._checkpoint_epoch = self.epoch
        return Path(path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint so the next epoch continues exactly where it left off."""
        state = load_checkpoint(path)
        check_compatible(state, self.method.name, self.method.architecture(self.source.in_channels))
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng"]["torch"])
            self.shuffle_generator.set_state(state["rng"]["shuffle"])
            self._restore_augment_state(state["rng"], int(state["epoch"]))
        except (KeyError, RuntimeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit this model: {error}") from error
        self.epoch = int(state["epoch"])
        ours = self.checkpoint_path is not None and Path(path).resolve() == (
            self.checkpoint_path.resolve()
        )
        if ours:  # the checkpoint a failed save later falls back to
            self._checkpoint_epoch = self.epoch
        self.history = history_from_state(state["history"])
        self.history.truncate(self.epoch)
        kept = state.get("callbacks") or {}
        for callback in self._all_callbacks():
            if callback.state_key in kept:
                callback.load_state_dict(kept[callback.state_key])
        restore = getattr(self.method, "restore_extra", None)
        if callable(restore):
            restore(state.get("extra") or {})

    def _restore_augment_state(self, rng: dict[str, Any], epoch: int) -> None:
        """This process's augmentation stream: exact when the checkpoint was written by as many
        processes; otherwise rank 0 takes the saved stream and other ranks a fresh seed."""
        rank, world_size = self.process.rank, self.process.world_size
        per_rank = rng.get("augment_ranks")
        if per_rank is not None and len(per_rank) == world_size:
            self.augment_generator.set_state(per_rank[rank])
        elif rank == 0:
            self.augment_generator.set_state(rng["augment"])
        else:
            self.augment_generator.manual_seed(self._augment_seed(rank) + 7919 * epoch)
