"""Supervised fine-tuning of a feature extractor on a labelled *source* set (docs/methods.md,
section 4, step 1): a classification head (linear or a small MLP) on the extractor's features, a
few epochs of Adam (light augmentation optional), then the head is dropped and the extractor is
used on the target. Source and target classes may differ: only the features are transferred.

The training runs on the project's one engine, `explore.training.Trainer` (`FinetuneTask`
implements its protocol): devices, CPU threads, mixed precision on GPU, callbacks, progress and
checkpoints that resume exactly are the trainer's.

Its effect is measured, not assumed: a held-out part of the source (never trained on) is scored
by a linear probe (logistic regression on the features) before and after fine-tuning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from explore.compute import limit_threads
from explore.data.images import ImageSet
from explore.errors import DataError
from explore.training.sources import ImageSource
from explore.training.trainer import CallbackLike, Trainer
from explore.transfer.extractors import Extractor, TorchExtractor

__all__ = ["FinetuneReport", "FinetuneTask", "finetune", "linear_probe_accuracy"]


@dataclass(frozen=True)
class FinetuneReport:
    """What fine-tuning did: per-epoch mean loss and head accuracy on the training batches, and
    the held-out linear-probe accuracy before and after (None without a held-out split)."""

    epochs: int
    n_classes: int
    n_train: int
    n_heldout: int
    losses: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    probe_accuracy_before: float | None
    probe_accuracy_after: float | None
    seconds: float
    adaptations: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON records."""
        record = asdict(self)
        record["losses"] = list(self.losses)
        record["train_accuracy"] = list(self.train_accuracy)
        record["adaptations"] = list(self.adaptations)
        return record


def _split(labels: np.ndarray, heldout_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified (train, held-out) indices of the labelled items (label >= 0)."""
    labelled = np.flatnonzero(labels >= 0)
    if heldout_fraction <= 0:
        return labelled, labelled[:0]
    rng = np.random.default_rng(seed)
    heldout = []
    for value in np.unique(labels[labelled]):
        members = labelled[labels[labelled] == value]
        count = int(round(members.size * heldout_fraction))
        heldout.append(rng.choice(members, size=min(count, members.size - 1), replace=False))
    heldout_indices = np.sort(np.concatenate(heldout))
    return np.setdiff1d(labelled, heldout_indices), heldout_indices


def linear_probe_accuracy(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    seed: int = 0,
) -> float:
    """Accuracy on (test) of a logistic regression fitted on standardised (train) features: how
    linearly separable the classes are in a feature space."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    with limit_threads():
        probe.fit(train_features, train_labels)
        return float(probe.score(test_features, test_labels))


def _make_head(kind: str, in_features: int, n_classes: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_features, n_classes)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_classes)
        )
    raise DataError(f"head must be 'linear' or 'mlp'; got {kind!r}")


class Classifier(nn.Module):
    """An extractor's network (`backbone`, trained in place) with a classification head on its
    features (`head`, dropped after fine-tuning)."""

    def __init__(self, extractor: TorchExtractor, head: nn.Module) -> None:
        super().__init__()
        self.backbone = extractor.module
        self.head = head
        self._features = extractor.forward  # the extractor's own input handling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(x))


class FinetuneTask:
    """Supervised fine-tuning as a task of the `Trainer` (its `TrainableMethod` protocol): the
    model is the extractor plus a head, the optimiser Adam with the head's and the extractor's
    learning rates, the loss cross-entropy on each batch's labels (read with the images by
    `training_inputs`) after the optional augmentation `pool`. There are no clusters, so the
    trainer assigns nothing per epoch; each epoch's record holds the mean loss and the mean
    head accuracy ("accuracy") over its batches."""

    name = "finetune"
    assigns_each_epoch = False

    def __init__(
        self,
        extractor: TorchExtractor,
        *,
        n_classes: int,
        head: str = "linear",
        hidden: int = 256,
        lr: float = 1e-3,
        backbone_lr: float | None = None,
        pool: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ) -> None:
        self.extractor = extractor
        self.n_classes = int(n_classes)
        self.head = head
        self.hidden = int(hidden)
        self.lr = lr
        self.backbone_lr = backbone_lr
        self.pool = pool
        self.out_features = extractor.out_features

    def build_model(self, in_channels: int) -> nn.Module:
        head = _make_head(self.head, self.out_features, self.n_classes, self.hidden)
        return Classifier(self.extractor, head)

    def configure_optimizers(self, model: nn.Module) -> tuple[torch.optim.Optimizer, None]:
        optimizer = torch.optim.Adam(
            [
                {"params": model.backbone.parameters(), "lr": self.backbone_lr or self.lr / 10},
                {"params": model.head.parameters(), "lr": self.lr},
            ]
        )
        return optimizer, None

    def training_inputs(
        self, source: ImageSource, indices: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's images and labels, on the device."""
        return source.batch(indices), source.batch_labels(indices)

    def training_loss(
        self,
        model: nn.Module,
        batch: tuple[torch.Tensor, torch.Tensor],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        images, targets = batch
        if self.pool is not None:
            images = self.pool(images, generator)
        logits = model(images)
        loss = nn.functional.cross_entropy(logits, targets)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return {"loss": loss, "accuracy": accuracy}

    def architecture(self, in_channels: int) -> dict[str, Any]:
        """What a checkpoint must match to resume this fine-tuning."""
        return {
            "extractor": self.extractor.label,
            "in_channels": in_channels,
            "out_features": self.out_features,
            "n_classes": self.n_classes,
            "head": self.head,
            "hidden": self.hidden,
        }


def finetune(
    extractor: Extractor,
    source: ImageSet,
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    backbone_lr: float | None = None,
    head: Literal["linear", "mlp"] = "linear",
    hidden: int = 256,
    batch_size: int = 128,
    augmentation: str | Mapping[str, Any] | None = None,
    heldout_fraction: float = 0.2,
    max_probe_items: int = 2000,
    seed: int = 0,
    callbacks: Iterable[CallbackLike] = (),
    progress: bool | None = False,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> FinetuneReport:
    """Fine-tune `extractor` (in place) on the labelled images of `source`, then drop the head.

    The source goes through `extractor.prepare` (its resize / channel options apply). A
    stratified `heldout_fraction` of the labelled images is kept out of training and scored by
    a linear probe (trained on at most `max_probe_items` training images) before and after.
    `lr` is the head's learning rate, `backbone_lr` the extractor's (default lr / 10: the
    pretrained weights move less). `augmentation`: an augmentation preset name or pool dict
    (e.g. "cc_weak"), applied to each training batch; None trains on the images as they are.

    Training runs on the `Trainer` (`FinetuneTask`), on the extractor's device: `callbacks`
    see each epoch's record (losses "loss" and "accuracy"), `progress` draws bars (None: where
    a person watches; default off), `checkpoint_path` keeps a checkpoint after every epoch and
    `resume=True` continues from it when it exists.
    """
    if not isinstance(extractor, TorchExtractor):
        raise DataError(
            f"{extractor.label} has no weights to fine-tune: use a run:DIR or dinov2 extractor, "
            "or finetune_epochs=0"
        )
    if not isinstance(source, ImageSet) or source.labels is None:
        raise DataError("fine-tuning needs a labelled source ImageSet (labels 0..C-1)")
    if int(epochs) < 1:
        raise DataError(f"epochs must be >= 1; got {epochs}")
    if not 0 <= heldout_fraction < 1:
        raise DataError(f"heldout_fraction must lie in [0, 1); got {heldout_fraction}")
    if int(batch_size) < 2:
        raise DataError(f"batch_size must be >= 2; got {batch_size}")
    if head not in ("linear", "mlp"):
        raise DataError(f"head must be 'linear' or 'mlp'; got {head!r}")
    started = time.perf_counter()
    prepared = extractor.prepare(source)
    adaptations = tuple(extractor.adaptations_)
    labels = prepared.labels
    train_indices, heldout_indices = _split(labels, heldout_fraction, seed)
    classes = np.unique(labels[train_indices])
    if classes.size < 2:
        raise DataError(f"fine-tuning needs at least 2 labelled classes; got {classes.size}")
    if train_indices.size < 2:
        raise DataError(f"fine-tuning needs at least 2 labelled images; got {train_indices.size}")
    n_classes = int(labels.max()) + 1

    rng = np.random.default_rng(seed)
    probe_train = np.sort(
        rng.choice(train_indices, size=min(max_probe_items, train_indices.size), replace=False)
    )
    probe_test = heldout_indices[:max_probe_items]

    def probe() -> float | None:
        if probe_test.size == 0:
            return None
        train_features = extractor.features(prepared.subset(probe_train))
        test_features = extractor.features(prepared.subset(probe_test))
        return linear_probe_accuracy(
            train_features, labels[probe_train], test_features, labels[probe_test], seed=seed
        )

    before = probe()
    pool = None
    if augmentation is not None:
        from explore.augment import resolve_pool

        pool = resolve_pool(augmentation, image_size=int(prepared.images.shape[-1]))
    task = FinetuneTask(
        extractor,
        n_classes=n_classes,
        head=head,
        hidden=hidden,
        lr=lr,
        backbone_lr=backbone_lr,
        pool=pool,
    )
    trainer = Trainer(
        task,
        ImageSource(prepared, device=extractor.device, train_items=train_indices),
        epochs=int(epochs),
        batch_size=int(batch_size),
        device=extractor.device,
        seed=seed,
        callbacks=callbacks,
        checkpoint_path=checkpoint_path,
        progress=progress,
        single_process=True,  # each process fine-tunes the extractor it then uses
        metadata={"dataset": source.name, "n_classes": n_classes, "head": head},
    )
    try:
        if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
            trainer.load_checkpoint(checkpoint_path)
        history = trainer.fit()
    finally:
        extractor.module.eval()
    after = probe()
    return FinetuneReport(
        epochs=trainer.epoch,
        n_classes=n_classes,
        n_train=int(train_indices.size),
        n_heldout=int(heldout_indices.size),
        losses=tuple(record.losses["loss"] for record in history),
        train_accuracy=tuple(record.losses["accuracy"] for record in history),
        probe_accuracy_before=before,
        probe_accuracy_after=after,
        seconds=time.perf_counter() - started,
        adaptations=adaptations,
    )
