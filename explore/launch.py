"""Whether this process is one of a `torchrun` launch, read from the environment alone (no
torch import), so the command line can ask on its way out at no cost."""

from __future__ import annotations

import os

from explore.errors import DataError


def launched_by_torchrun() -> bool:
    """Whether the environment describes a group of several processes (torchrun sets it)."""
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError as error:
        raise DataError(
            f"WORLD_SIZE must be an integer; got {os.environ['WORLD_SIZE']!r}"
        ) from error
    return world_size > 1 and "RANK" in os.environ
