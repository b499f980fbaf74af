"""`Trainer`: the one training loop every deep method uses.

The method supplies the model, the optimiser and schedule, and the loss of a batch (which draws
its own augmented views); the trainer owns the device, seeds, mixed precision on GPU, progress,
a thread-safe stop request, per-epoch evaluation of every item, callbacks, NaN handling and
checkpoints that resume exactly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from explore.errors import CheckpointError, DataError, TrainingDivergedError
from explore.training.checkpoint import (
    check_compatible,
    history_from_state,
    history_to_state,
    load_checkpoint,
    save_checkpoint,
)
from explore.training.history import EpochRecord, RunHistory
from explore.training.sources import DataSource

Callback = Callable[[EpochRecord], None]


class TrainableMethod(Protocol):
    """What a method gives the trainer (see `explore.methods.base.DeepClusteringMethod`)."""

    name: str

    def build_model(self, in_channels: int) -> nn.Module: ...

    def configure_optimizers(
        self, model: nn.Module
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]: ...

    def training_loss(
        self, model: nn.Module, batch: torch.Tensor, generator: torch.Generator
    ) -> dict[str, torch.Tensor]: ...

    def architecture(self, in_channels: int) -> dict[str, Any]: ...


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` -> CUDA when present, else CPU; anything else as torch understands it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise DataError(f"unknown device {device!r}: {error}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DataError(f"device {device!r} asked for, but no CUDA GPU is available")
    return resolved


class Trainer:
    """Train `method` on `source` for `epochs` epochs of `batch_size` items.

    Each epoch shuffles the training items (drop last incomplete batch, as the reference code),
    runs the method's loss on every batch, steps the schedule, then assigns every item (batch
    by batch, in eval mode) and hands an `EpochRecord` to each callback. With
    `checkpoint_path`, a checkpoint is written after every epoch.
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
        callbacks: Iterable[Callback] = (),
        checkpoint_path: str | Path | None = None,
        progress: bool = False,
        mixed_precision: bool | None = None,
        eval_batch_size: int = 1024,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if epochs < 1:
            raise DataError(f"epochs must be >= 1; got {epochs}")
        if batch_size < 2:
            raise DataError(f"batch_size must be >= 2; got {batch_size}")
        self.method = method
        self.source = source
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.seed = seed
        self.callbacks: list[Callback] = list(callbacks)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.progress = progress
        self.eval_batch_size = eval_batch_size
        self.mixed_precision = (
            self.device.type == "cuda" if mixed_precision is None else mixed_precision
        )
        self._stop = threading.Event()

        torch.manual_seed(seed)
        self.model = method.build_model(source.in_channels).to(self.device)
        self.optimizer, self.scheduler = method.configure_optimizers(self.model)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.mixed_precision and self.device.type == "cuda"
        )
        self.shuffle_generator = torch.Generator().manual_seed(seed)
        self.augment_generator = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.epoch = 0
        self.history = RunHistory({"method": method.name, "seed": seed, **(metadata or {})})
        n_train = len(source.train_indices())
        if n_train < 2:
            raise DataError(f"need at least 2 training items; got {n_train}")
        if n_train < batch_size:
            self.batch_size = n_train

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask training to end after the current batch (safe from any thread)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ training
    def fit(self) -> RunHistory:
        """Train until `epochs` epochs are done or a stop is requested."""
        self._stop.clear()
        while self.epoch < self.epochs and not self._stop.is_set():
            self.run_epoch()
        return self.history

    def _autocast(self):
        if not self.mixed_precision:
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def run_epoch(self) -> EpochRecord | None:
        """One epoch of training plus evaluation; None when a stop request cut it short (the
        model keeps the batches it trained on; the last checkpoint stays at the last full
        epoch, so a resume is exact)."""
        started = time.perf_counter()
        epoch = self.epoch + 1
        indices = self.source.train_indices()
        order = indices[torch.randperm(len(indices), generator=self.shuffle_generator)]
        n_batches = len(order) // self.batch_size
        totals: dict[str, float] = {}
        self.model.train()
        batches = range(n_batches)
        if self.progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"epoch {epoch}/{self.epochs}", leave=False)
        for batch_number in batches:
            batch_indices = order[
                batch_number * self.batch_size : (batch_number + 1) * self.batch_size
            ]
            inputs = self.source.batch(batch_indices)
            with self._autocast():
                parts = self.method.training_loss(self.model, inputs, self.augment_generator)
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
            if self._stop.is_set():
                return None
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch = epoch
        assignments = self.assign()
        counts = np.bincount(assignments.ravel(), minlength=self._n_outputs())
        record = EpochRecord(
            epoch=epoch,
            losses={key: value / max(n_batches, 1) for key, value in totals.items()},
            assignments=assignments,
            cluster_sizes=[int(c) for c in counts],
            metrics=self.source.score(assignments),
            seconds=time.perf_counter() - started,
        )
        self.history.append(record)
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)
        for callback in self.callbacks:
            callback(record)
        return record

    def _n_outputs(self) -> int:
        return int(getattr(self.method, "n_clusters", 0))

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_proba(self, source: DataSource | None = None) -> torch.Tensor:
        """Soft assignments (n_items, K) of every item, batch by batch, on the CPU."""
        return self._map(source, lambda model, x: model(x))

    @torch.no_grad()
    def embed(self, source: DataSource | None = None) -> torch.Tensor:
        """Backbone features (n_items, d) of every item, batch by batch, on the CPU."""
        return self._map(source, lambda model, x: model.embed(x))

    def assign(self, source: DataSource | None = None) -> np.ndarray:
        """Hard cluster of every item, shaped like the source (an (H, W) map for a scene)."""
        source = source or self.source
        labels = self._map(source, lambda model, x: model(x).argmax(dim=1))
        dtype = np.uint8 if self._n_outputs() <= 256 else np.int32
        return labels.numpy().astype(dtype).reshape(source.assignment_shape)

    def _map(self, source: DataSource | None, function) -> torch.Tensor:
        source = source or self.source
        was_training = self.model.training
        self.model.eval()
        outputs = []
        with torch.no_grad(), self._autocast():
            for start in range(0, source.n_items, self.eval_batch_size):
                stop = min(start + self.eval_batch_size, source.n_items)
                inputs = source.batch(torch.arange(start, stop))
                outputs.append(function(self.model, inputs).float().cpu())
        self.model.train(was_training)
        return torch.cat(outputs)

    # ------------------------------------------------------------------ checkpoints
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
        extra = getattr(self.method, "checkpoint_extra", None)
        if callable(extra):
            state["extra"] = extra()
        return state

    def save_checkpoint(self, path: str | Path) -> Path:
        return save_checkpoint(path, self.state_dict())

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
            self.augment_generator.set_state(state["rng"]["augment"])
        except (KeyError, RuntimeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path} does not fit this model: {error}") from error
        self.epoch = int(state["epoch"])
        self.history = history_from_state(state["history"])
        self.history.truncate(self.epoch)
