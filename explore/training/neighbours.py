"""Nearest neighbours in a learnt feature space, for SCAN's neighbour-consistency stage.

`mine_neighbours` returns each item's k most similar other items by cosine similarity, by exact
search in chunks on the features' device (a (chunk, N) similarity block at a time), so the
whole (N, N) matrix is never held.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from explore.errors import DataError

__all__ = ["mine_neighbours", "neighbour_agreement"]


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
