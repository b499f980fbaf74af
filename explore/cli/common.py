"""What every `explore` command shares: the usage error, argparse that reports in one line,
the types of options, and the output folder's checks."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from explore.errors import ExploreError, OutputError

EXIT_USAGE = 2


class UsageError(ExploreError):
    """A command-line option is missing, malformed or conflicts with another."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage block) with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2**32 - 1] (what numpy, scikit-learn and torch all take)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32 - 1]; got {value}")
    return value


def _device(text: str) -> str:
    """--device: auto, cpu, cuda or cuda:N (checked for its form here; for a GPU when used)."""
    if text == "auto":
        return text
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"unknown device {text!r}: use auto, cpu, cuda or cuda:N"
        ) from None
    return text


def _non_empty(problem: str) -> Callable[[str], str]:
    """An argparse type that refuses empty or blank text with `problem` as the message."""

    def check(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(problem)
        return text

    return check


_name_or_path = _non_empty("empty: give a dataset name or a file / folder path")
_path = _non_empty("empty path")


def _positive_int(text: str) -> int:
    """A whole number >= 1 (e.g. --tile-size)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1; got {text!r}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


# ---------------------------------------------------------------------------- output folders
def prepare_output_dir(path: Path, files: Sequence[str], *, overwrite: bool) -> Path:
    """Create `path` if needed and check it is writable (a 4 KiB probe file is written and
    removed) before any work starts: OutputError if not.

    Refuses (UsageError) when any of `files` already exists there and `overwrite` is False, so
    a previous run's results are never lost by accident. Other files in the folder are never
    touched."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    existing = [name for name in files if (path / name).exists()]
    if existing and not overwrite:
        raise UsageError(
            f"--out {path} already holds {', '.join(existing)}; pass --overwrite to replace them"
        )
    probe = path / f".explore-write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(bytes(4096))
    except OSError as error:
        raised = OutputError(f"--out {path} is not writable: {error.strerror or error}")
        raised.errno = error.errno
        raise raised from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return path
