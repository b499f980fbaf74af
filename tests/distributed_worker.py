"""Run by tests/test_distributed.py under `torchrun --nproc_per_node 2`: every process computes
each method's training loss on its half of one fixed batch, with the same deterministic views,
through the trainer's DistributedDataParallel wrapper, and saves the loss parts and the
gradients it ends with (`rank<r>.pt` in the folder given as argument).

`cases()` and `BATCH` are shared with the test, which computes the same losses in one process
on the whole batch.
"""

from __future__ import annotations

import faulthandler
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from explore.methods.base import DeepClusteringMethod
from explore.methods.cc import CC
from explore.methods.s3ocnet import S3OCNet
from explore.methods.sacc import SACC
from explore.methods.sscc import SSCC

N_CHANNELS = 4
GLOBAL_BATCH = 16
HANG_SECONDS = 150  # the whole run takes about 5 s; the test gives torchrun 240
BATCH = torch.rand((GLOBAL_BATCH, N_CHANNELS, 5, 5), generator=torch.Generator().manual_seed(0))


class FixedViews:
    """An augmentation pool stand-in: call k returns transforms[k % len](batch), so a process
    holding half the batch draws exactly the rows the whole batch would get."""

    def __init__(self, *transforms: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.transforms = transforms
        self.calls = 0

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        transform = self.transforms[self.calls % len(self.transforms)]
        self.calls += 1
        return transform(batch)


def _identity(batch: torch.Tensor) -> torch.Tensor:
    return batch


def _flip(batch: torch.Tensor) -> torch.Tensor:
    return batch.flip(-1)


def _strong(batch: torch.Tensor) -> torch.Tensor:
    return batch.transpose(-1, -2) * 0.7


def cases() -> Iterator[tuple[str, DeepClusteringMethod, torch.nn.Module]]:
    """(name, method, model) for every deep method, the model built with seed 0, in eval mode
    (BatchNorm uses running statistics, so a sample's outputs do not depend on its batch)."""
    common = {"device": "cpu", "patch_size": 5, "n_components": N_CHANNELS}
    methods: list[tuple[str, DeepClusteringMethod]] = [
        ("sscc", SSCC(n_clusters=3, backbone="light", neighbour_radius=0, **common)),
        # a batch of anchors then their spatial neighbours (`SSCC.training_inputs`)
        ("sscc-neighbours", SSCC(n_clusters=3, backbone="light", neighbour_radius=2, **common)),
        (
            "sscc-workshop",
            SSCC(n_clusters=3, backbone="light", loss="workshop", neighbour_radius=0, **common),
        ),
        ("cc", CC(n_clusters=3, backbone="light", neighbour_radius=0, **common)),
        ("sacc", SACC(n_clusters=3, backbone="light", neighbour_radius=0, **common)),
        ("s3ocnet", S3OCNet(n_clusters=3, backbone="light", neighbour_radius=0, **common)),
    ]
    for name, method in methods:
        method.input_shape_ = (N_CHANNELS,)
        torch.manual_seed(0)
        model = method.build_model(N_CHANNELS)
        model.eval()
        if isinstance(method, SSCC):
            method._pool = FixedViews(_identity, _flip)
        else:
            method._weak = FixedViews(_identity, _flip)
            method._strong = FixedViews(_strong)
        yield name, method, model


def run(method: DeepClusteringMethod, model: object, batch: torch.Tensor) -> dict:
    """Loss parts (floats) and every parameter's gradient after one backward pass."""
    parts = method.training_loss(model, batch, torch.Generator())  # type: ignore[arg-type]
    parts["loss"].backward()
    network = getattr(model, "model", model)
    return {
        "parts": {key: float(value.detach()) for key, value in parts.items()},
        "grads": {
            name: parameter.grad.detach().clone()
            for name, parameter in network.named_parameters()
            if parameter.grad is not None
        },
    }


def main(folder: Path) -> None:
    # A hung process prints where it hangs and exits, rather than the test's timeout killing
    # torchrun with nothing said.
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    from explore.training import distributed

    info = distributed.init_from_environment("cpu")
    rank, world_size = info.rank, info.world_size
    rows = GLOBAL_BATCH // world_size
    half = BATCH[rank * rows : (rank + 1) * rows]
    # Paired inputs (anchors, then neighbours): each process takes its share of both halves.
    anchors, neighbours = BATCH.chunk(2)
    pairs = rows // 2
    paired = torch.cat(
        [anchors[rank * pairs : (rank + 1) * pairs], neighbours[rank * pairs : (rank + 1) * pairs]]
    )
    results = {}
    for name, method, model in cases():
        wrapped = distributed.DistributedModel(model, torch.device("cpu"))
        results[name] = run(method, wrapped, paired if name == "sscc-neighbours" else half)
    torch.save(results, folder / f"rank{rank}.pt")
    distributed.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    # Leave without the interpreter's finalization: torch's autograd and gloo threads can race
    # its teardown of the GIL (an upstream issue), and 1 of 40 runs here then never exited,
    # both results saved. What this test checks is saved by then.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
