"""Checkpoints: everything needed to resume a run exactly, loaded with `weights_only=True`.

A checkpoint holds the method's name and configuration, the model, optimiser and scheduler
states, the RNG states, the number of finished epochs, the run history and the preprocessing
state. It is written with `explore.outputs.write_atomic` (temporary file, fsync, rename, fsync of
the folder), so a kill or a power loss during a save never leaves a corrupt checkpoint behind,
and the temporary file a killed save leaves is removed by the next save. A checkpoint's size is
estimated before the run (`estimate_checkpoint_bytes`), for the free-space check.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explore.errors import CheckpointError
from explore.outputs import write_atomic
from explore.training.history import RunHistory

CHECKPOINT_FORMAT = "explore-checkpoint-v1"


def history_to_state(history: RunHistory) -> dict[str, Any]:
    arrays = history.to_arrays()
    state: dict[str, Any] = {"meta": str(arrays["meta"])}
    if "assignments" in arrays:
        state["assignments"] = torch.from_numpy(np.ascontiguousarray(arrays["assignments"]))
    return state


def history_from_state(state: dict[str, Any]) -> RunHistory:
    arrays = {"meta": np.array(state["meta"])}
    if "assignments" in state:
        arrays["assignments"] = state["assignments"].numpy()
    return RunHistory.from_arrays(arrays)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` (plus the format tag) atomically and durably to `path`; a failed write
    (disk full, file size limit) raises `OutputError` and leaves any previous checkpoint at
    `path` as it was, with no temporary file behind."""
    payload = {"format": CHECKPOINT_FORMAT, **state}
    return write_atomic(Path(path), lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (`weights_only=True`); CheckpointError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or hostile files
        raise CheckpointError(f"cannot load checkpoint {path}: {error}") from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an explore checkpoint")
    return state


def check_compatible(state: dict[str, Any], method: str, config: dict[str, Any]) -> None:
    """Refuse a checkpoint written by another method or with another architecture."""
    if state.get("method") != method:
        raise CheckpointError(
            f"checkpoint was written by method {state.get('method')!r}, not {method!r}"
        )
    saved = state.get("architecture", {})
    for key, value in config.items():
        if key in saved and saved[key] != value:
            raise CheckpointError(
                f"checkpoint has {key}={saved[key]!r} but this run has {key}={value!r}: "
                f"set {key}={saved[key]!r} to use it"
            )


def estimate_checkpoint_bytes(model: nn.Module, method: Any, history_bytes: int) -> int:
    """Size of a checkpoint of `model` trained by `method`, estimated before it is written: the
    model's state, two Adam moments per trainable parameter, `history_bytes` (the history with
    every epoch's map), the method's extra state (`checkpoint_extra`: preprocessing,
    parameters; measured) and 64 KiB for the rest."""
    model_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    parameter_bytes = sum(
        p.numel() * p.element_size() for p in model.parameters() if p.requires_grad
    )
    extra = getattr(method, "checkpoint_extra", None)
    extra_bytes = 0
    if callable(extra):
        buffer = io.BytesIO()
        torch.save(extra(), buffer)
        extra_bytes = buffer.tell()
    return model_bytes + 2 * parameter_bytes + history_bytes + extra_bytes + (64 << 10)
