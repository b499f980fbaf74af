"""Typed errors raised by `explore`: every message names the argument, file or value at fault.

They subclass the built-in exception a caller would expect (`ValueError`, `LookupError`), so
code written against the built-ins keeps working, while callers that want to tell problems apart
(the CLI, the dashboard) can catch `ExploreError`.
"""

from __future__ import annotations


class ExploreError(Exception):
    """Base class of every error `explore` raises on purpose."""


class DataError(ExploreError, ValueError):
    """Array content or shape is invalid (NaN/Inf, wrong shape, empty selection, bad index)."""


class FileFormatError(DataError):
    """A file cannot be read: corrupt, truncated, of an unknown format, or missing a key."""


class DatasetNotFoundError(ExploreError, LookupError):
    """A dataset name is unknown, or its files are neither local nor downloadable."""


class ChecksumError(ExploreError, ValueError):
    """A downloaded or local file does not match the checksum recorded for it."""


class CheckpointError(ExploreError, ValueError):
    """A checkpoint cannot be used: corrupt, from another method, or of another shape."""


class TrainingDivergedError(ExploreError, FloatingPointError):
    """The loss became NaN or Inf; the message names the epoch and batch."""


class ModelNotFoundError(ExploreError, LookupError):
    """Pretrained weights are neither in a local folder / cache nor downloadable (offline)."""


class IncompatibleImagesError(DataError):
    """Images whose size or channels a feature extractor cannot take; the message names the
    fix (resize, channel mapping) and the option that applies it."""


class OutputError(ExploreError, OSError):
    """Results cannot be written: the output folder cannot be created or written, its
    filesystem lacks the space a run needs (the message names the folder, the bytes needed and
    free), or a write failed midway (disk full, file size limit): then `errno` and `reason`
    (the system's words) are set."""
