"""Nearest neighbours in a learnt feature space, for SCAN's neighbour-consistency stage.

`mine_neighbours` returns each item's k most similar other items by cosine similarity, by exact
search in chunks on the features' device (a (chunk, N) similarity block at a time), so the
whole (N, N) matrix is never held. `NeighbourTable` keeps the mined neighbours of a run's
training items, draws a partner for each item of a batch and travels in the checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explore.errors import DataError

__all__ = ["MAX_MINED_ITEMS", "NeighbourTable", "mine_neighbours", "neighbour_agreement"]


def mine_neighbours(features: torch.Tensor, k: int, *, chunk_size: int = 2048) -> torch.Tensor:
    """(N, k) int64 indices of each row's k nearest other rows of `features` (N, d) by cosine
    similarity, most similar first; a row is never its own neighbour. Computed on `features`'
    device, `chunk_size` rows at a time."""
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        shape = getattr(features, "shape", type(features).__name__)
        raise DataError(f"features must be an (N, d) tensor; got {shape}")
    count = features.shape[0]
    if not (isinstance(k, int) and 1 <= k < count):
        raise DataError(f"k must be an integer in [1, {count - 1}] for {count} items; got {k!r}")
    if not torch.isfinite(features).all():
        raise DataError("features hold NaN or Inf values")
    rows = F.normalize(features.float(), dim=1, eps=1e-12)
    result = torch.empty((count, k), dtype=torch.long, device=features.device)
    for start in range(0, count, chunk_size):
        stop = min(start + chunk_size, count)
        similarity = rows[start:stop] @ rows.T
        own = torch.arange(start, stop, device=features.device)
        similarity[own - start, own] = float("-inf")
        result[start:stop] = similarity.topk(k, dim=1, sorted=True).indices
    return result


def neighbour_agreement(neighbours: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (item, neighbour) pairs with the same label: how pure the mined neighbourhoods
    are (with ground truth, a diagnostic only; never used to choose anything)."""
    return float((labels[neighbours] == labels[:, None]).float().mean())


MAX_MINED_ITEMS = 200_000
"""Most training items the neighbour stage mines over (the exact search is O(N^2))."""


class NeighbourTable:
    """Each training item's k nearest other training items in a learnt feature space (SCAN's
    mined neighbours), and a draw of one of them for each item of a batch.

    `items` (n,) are item indices in increasing order, `neighbours` (n, k) the item indices of
    each one's neighbours, most similar first; both live on the CPU."""

    def __init__(self, items: torch.Tensor, neighbours: torch.Tensor) -> None:
        if items.ndim != 1 or neighbours.ndim != 2 or len(items) != len(neighbours):
            raise DataError(
                f"a neighbour table needs items (n,) and neighbours (n, k); got "
                f"{tuple(items.shape)} and {tuple(neighbours.shape)}"
            )
        if len(items) > 1 and not bool((items[1:] > items[:-1]).all()):
            raise DataError("a neighbour table's items must be in increasing order")
        self.items = items.long().cpu()
        self.neighbours = neighbours.long().cpu()

    @classmethod
    def mine(cls, items: torch.Tensor, features: torch.Tensor, k: int) -> NeighbourTable:
        """The table of `items` (n,) from their features (n, d) (row i is item `items[i]`),
        searched on the features' device; k is cut to n - 1 on a tiny set."""
        if len(items) > MAX_MINED_ITEMS:
            raise DataError(
                f"the neighbour stage mines at most {MAX_MINED_ITEMS:,} training items (an exact "
                f"search over every pair); this run trains on {len(items):,}"
            )
        order = torch.argsort(items.cpu())
        items = items.cpu()[order]
        features = features[order.to(features.device)]
        positions = mine_neighbours(features, min(k, len(items) - 1)).cpu()
        return cls(items, items[positions])

    def partners(self, indices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B,) CPU item indices: for each item of `indices`, one of its neighbours drawn
        uniformly with `generator` (on its device)."""
        wanted = indices.cpu().long()
        rows = torch.searchsorted(self.items, wanted).clamp_max(len(self.items) - 1)
        if not bool((self.items[rows] == wanted).all()):
            raise DataError("the batch holds items the neighbour table was not mined over")
        k = self.neighbours.shape[1]
        column = torch.randint(k, wanted.shape, generator=generator, device=generator.device)
        return self.neighbours[rows, column.cpu()]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The table as int32 tensors (a checkpoint's worth: 4 bytes per item and neighbour)."""
        return {"items": self.items.int(), "neighbours": self.neighbours.int()}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> NeighbourTable:
        return cls(torch.as_tensor(state["items"]), torch.as_tensor(state["neighbours"]))
