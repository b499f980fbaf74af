"""Training and prediction across processes and machines: the process group `torchrun`
describes, and the gather that lets contrastive losses see the global batch.

`torchrun` starts one process per device (on one machine or several) and sets `RANK`,
`WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT`; `init_from_environment` joins that
process group, with NCCL on CUDA devices and gloo on CPUs. The `Trainer` then reads the group
(`process_info`): every process draws the same shuffled order and takes its own share of each
global batch, the model is wrapped in DistributedDataParallel, and only rank 0 evaluates and
writes. Methods pass their per-view outputs through `gather_rows` before any loss (through
`DeepClusteringMethod.gather_views`), so negatives, cluster columns and batch statistics span
every process's samples: docs/methods.md, section 7. Prediction uses the same group: each
process computes its share of a scene's tiles (`DeepClusteringMethod.predict_to_file`) and
`all_gather_objects` lets the processes agree on the one map file they fill. In a single
process every function here is a no-op.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from explore.errors import DataError
from explore.launch import launched_by_torchrun


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the group: `rank` in [0, world_size), `local_rank` on its
    machine (its GPU index). A single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that evaluates and writes checkpoints, history and metrics."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def is_active() -> bool:
    """Whether a process group of more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def process_info() -> ProcessInfo:
    """Rank, world size and local rank of this process (rank 0 of 1 outside a group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return ProcessInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    return ProcessInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def backend_for(device: str | torch.device) -> str:
    """ "nccl" for CUDA devices ("auto" with a GPU present), "gloo" otherwise."""
    name = str(device)
    cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    return "nccl" if cuda else "gloo"


def init_from_environment(
    device: str | torch.device = "auto", *, timeout_seconds: float = 1800.0
) -> ProcessInfo:
    """Join the process group `torchrun` described in the environment: NCCL when `device` is a
    GPU (each process takes the GPU of its `LOCAL_RANK`), gloo on CPUs. Returns this process's
    `ProcessInfo`; in a single process (no torchrun) or when already joined, changes nothing."""
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return process_info()
    if not dist.is_available():
        raise DataError("torch was built without torch.distributed: cannot train across processes")
    backend = backend_for(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise DataError(f"device {device!r} asked for, but no CUDA GPU is available")
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise DataError(
                f"LOCAL_RANK {local_rank} but this machine has {count} GPU(s): start at most "
                f"{count} processes per node (torchrun --nproc_per_node {count})"
            )
        torch.cuda.set_device(local_rank)
    # torch._dynamo's first import (which the first optimizer built in a process triggers)
    # keeps a reference to the process group active at that moment, so that
    # destroy_process_group could no longer stop gloo's worker threads; one of them releasing a
    # collective's tensor during interpreter exit then aborted the process (2 to 4 of 15
    # `torchrun ... -m explore predict` runs). Imported before the group exists, it holds none.
    importlib.import_module("torch._dynamo")
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_seconds))
    return process_info()


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def device_for_process(device: torch.device) -> torch.device:
    """A CUDA device without an index becomes this process's GPU (`cuda:LOCAL_RANK`)."""
    if device.type == "cuda" and device.index is None and is_active():
        return torch.device("cuda", process_info().local_rank)
    return device


def barrier() -> None:
    """Wait for every process (no-op in a single process)."""
    if is_active():
        dist.barrier()


def all_gather_objects(value: Any) -> list[Any]:
    """Every process's `value`, in rank order (`[value]` in a single process)."""
    if not is_active():
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


class _GatherRows(torch.autograd.Function):
    """all_gather whose backward hands each process the gradient of its own rows, summed over
    the processes (every process computes the same loss of the gathered batch)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        ctx.rank = dist.get_rank()
        ctx.rows = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """(n, ...) rows of this process -> (world_size * n, ...) rows of every process, in rank
    order, with gradients flowing back to each process's own rows; the tensor itself in a
    single process. Every process must pass the same number of rows.

    Each process then computes the loss of the global batch (the same value everywhere), and the
    gradient its rows receive is the sum over processes of that loss's gradient, that is
    world_size times the single-process gradient; DistributedDataParallel's average over
    processes divides it back, so parameters get exactly the single-process gradient of the
    global batch.
    """
    if not is_active():
        return tensor
    return _GatherRows.apply(tensor)


# ---------------------------------------------------------------------------- DDP wrapping
class _MethodCall(nn.Module):
    """Lets DistributedDataParallel run any method of the model (`project`, `head_outputs`,
    ...) as its `forward`, so gradient synchronisation sees every call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "forward":
            return self.model(*args, **kwargs)
        return getattr(self.model, name)(*args, **kwargs)


class DistributedModel:
    """What `training_loss` receives in a distributed run: the model, with its calls and its own
    methods (`project`, `head_outputs`, `embed`, ...) routed through DistributedDataParallel;
    submodules, `nn.Module` methods and attributes come from the model itself."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [device.index] if device.type == "cuda" else None
        self.model = model
        self.wrapped = DistributedDataParallel(_MethodCall(model), device_ids=device_ids)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.wrapped("forward", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.model, name)
        routed = callable(attribute) and not isinstance(attribute, nn.Module)
        if routed and not hasattr(nn.Module, name):
            return functools.partial(self.wrapped, name)
        return attribute
