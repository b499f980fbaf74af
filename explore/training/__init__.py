"""The training engine shared by every deep method: data sources, `Trainer`, `RunHistory`,
checkpoints."""

from explore.compute import resolve_device
from explore.training.history import EpochRecord, RunHistory
from explore.training.sources import DataSource, ImageSource, SceneSource
from explore.training.trainer import Trainer

__all__ = [
    "DataSource",
    "EpochRecord",
    "ImageSource",
    "RunHistory",
    "SceneSource",
    "Trainer",
    "resolve_device",
]
