"""Heads on top of a backbone's features."""

from __future__ import annotations

import torch
from torch import nn

from explore.errors import DataError


class ClusterHead(nn.Module):
    """Linear - ReLU - Linear(K) - softmax: the K outputs are the clusters' soft assignments.

    Input (N, in_features); output (N, K), rows summing to 1. `logits()` skips the softmax."""

    def __init__(self, in_features: int, n_clusters: int, hidden: int = 512) -> None:
        super().__init__()
        if n_clusters < 2:
            raise DataError(f"n_clusters must be >= 2; got {n_clusters}")
        self.n_clusters = n_clusters
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_clusters)
        )

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.layers(features), dim=1)


class ProjectionHead(nn.Module):
    """Linear - ReLU - Linear(out_features): an instance projector (output not normalised;
    the contrastive loss normalises)."""

    def __init__(self, in_features: int, out_features: int = 128, hidden: int | None = None):
        super().__init__()
        hidden = hidden or in_features
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_features)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)
