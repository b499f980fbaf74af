"""Self-organizing clustering heads (SOCH) of S3OCNet: layers whose weights are cluster centres.

This module owns the network side of docs/methods.md, section 3:

- `SelfOrganizingHead`: optional Linear projection, then K centres W (K, d); the outputs are the
  similarities of each feature to each centre (cosine, or negative squared distance), turned
  into soft assignments by a softmax at a temperature. The hard assignment (one-hot argmax, no
  gradient) is the self-supervised target.
- `MultilayerSOCH`: several heads in cascade, each clustering in its own space; the last head's
  K is the number of clusters the method predicts.
- `multilayer_soch_loss_parts`: the per-layer S3OCNet losses added up.

The loss itself and every anti-collapse choice live in `explore.losses` (`soch_loss_parts`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from explore.errors import DataError
from explore.losses import soch_loss_parts

SIMILARITIES = ("cosine", "neg_sq_distance")
ARRANGEMENTS = ("cascade", "parallel")

# A zero feature or centre stays zero when L2-normalised (its cosines are then 0).
_NORM_FLOOR = 1e-12


class HeadOutput(NamedTuple):
    """One head's outputs for N samples: `similarities` (N, K) and `soft` (N, K), plus the
    projected `features` (N, d) the centres live in (what a cascade passes on)."""

    features: torch.Tensor
    similarities: torch.Tensor
    soft: torch.Tensor


def _full_precision(device: torch.device) -> AbstractContextManager:
    """Autocast off on `device`: similarities are computed in float32 or better (squared
    distances overflow float16 for features of norm above ~256)."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, enabled=False)
    return nullcontext()


class SelfOrganizingHead(nn.Module):
    """A clustering layer whose K weight rows are the cluster centres.

    Input features (N, in_features) -> optional `nn.Linear(in_features, projection_dim)` ->
    projected features (N, d), d = projection_dim or in_features. The centres W (K, d) are an
    `nn.Parameter` (`weight`), initialised with orthogonal rows (orthonormal when K <= d: the
    centres start as far apart as they can on the unit sphere, so no cluster starts empty by
    construction for cosine; for "neg_sq_distance", whose scale matters, set them from k-means on
    projected features with `set_centres`).

    `similarities` (N, K): "cosine" = <x/|x|, w_k/|w_k|>; "neg_sq_distance" = -|x - w_k|^2.
    `forward` (N, K) = softmax(similarities / temperature), rows summing to 1.
    `hard_targets` (N, K) = one-hot of the row argmax, without gradient.
    """

    def __init__(
        self,
        in_features: int,
        n_clusters: int,
        *,
        similarity: str = "cosine",
        temperature: float = 0.1,
        projection_dim: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise DataError(f"in_features must be an integer >= 1; got {in_features!r}")
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 2:
            raise DataError(f"n_clusters must be an integer >= 2; got {n_clusters!r}")
        if similarity not in SIMILARITIES:
            raise DataError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}")
        if isinstance(temperature, bool) or not (
            isinstance(temperature, int | float) and 0 < float(temperature) < math.inf
        ):
            raise DataError(f"temperature must be a finite number > 0; got {temperature!r}")
        if projection_dim is not None and (
            isinstance(projection_dim, bool)
            or not isinstance(projection_dim, int)
            or projection_dim < 1
        ):
            raise DataError(
                f"projection_dim must be None or an integer >= 1; got {projection_dim!r}"
            )
        self.in_features = in_features
        self.n_clusters = n_clusters
        self.similarity = similarity
        self.temperature = float(temperature)
        self.projection_dim = projection_dim
        self.out_features = projection_dim if projection_dim is not None else in_features
        self.projection: nn.Module = (
            nn.Linear(in_features, projection_dim) if projection_dim is not None else nn.Identity()
        )
        self.weight = nn.Parameter(torch.empty(n_clusters, self.out_features))
        nn.init.orthogonal_(self.weight)

    # ------------------------------------------------------------------ centres
    @property
    def centres(self) -> torch.Tensor:
        """The cluster centres (K, d): the live parameter `weight` (it trains with the head)."""
        return self.weight

    def set_centres(self, centres: torch.Tensor) -> None:
        """Overwrite the centres with `centres` (K, d), e.g. k-means centres of projected
        features. Copied in place (no gradient recorded), so optimisers keep their parameter."""
        if not isinstance(centres, torch.Tensor):
            centres = torch.as_tensor(centres)
        if tuple(centres.shape) != tuple(self.weight.shape):
            raise DataError(
                f"centres must have shape (n_clusters, d) = {tuple(self.weight.shape)}; got "
                f"{tuple(centres.shape)}"
            )
        if not bool(torch.isfinite(centres).all()):
            raise DataError("centres hold non-finite values (NaN or Inf)")
        with torch.no_grad():
            self.weight.copy_(centres.to(self.weight))

    # ------------------------------------------------------------------ outputs
    def project(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, d): the space the centres live in."""
        if not isinstance(features, torch.Tensor) or features.ndim != 2:
            shape = tuple(features.shape) if isinstance(features, torch.Tensor) else None
            raise DataError(f"features must be a 2-D tensor (N, {self.in_features}); got {shape}")
        if features.shape[1] != self.in_features:
            raise DataError(
                f"features must have {self.in_features} columns (N, in_features); got shape "
                f"{tuple(features.shape)}"
            )
        return self.projection(features)

    def similarities_of_projected(self, projected: torch.Tensor) -> torch.Tensor:
        """(N, d) projected features -> (N, K) similarities, float32 or better."""
        dtype = torch.promote_types(projected.dtype, torch.float32)
        with _full_precision(projected.device):
            points = projected.to(dtype)
            centres = self.weight.to(dtype)
            if self.similarity == "cosine":
                points = F.normalize(points, dim=1, eps=_NORM_FLOOR)
                centres = F.normalize(centres, dim=1, eps=_NORM_FLOOR)
                return points @ centres.T
            # |x - w|^2 = |x|^2 - 2 x.w + |w|^2, clamped at 0 against rounding (no sqrt, so the
            # gradient stays finite when a point sits on a centre).
            squared = (
                points.pow(2).sum(dim=1, keepdim=True)
                - 2 * points @ centres.T
                + centres.pow(2).sum(dim=1)[None, :]
            )
            return -squared.clamp_min(0)

    def similarities(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, K) similarity of each sample to each centre."""
        return self.similarities_of_projected(self.project(features))

    def soft_assignments(self, similarities: torch.Tensor) -> torch.Tensor:
        """(N, K) similarities -> (N, K) softmax(similarities / temperature)."""
        return torch.softmax(similarities / self.temperature, dim=1)

    def outputs(self, features: torch.Tensor) -> HeadOutput:
        """Projected features, similarities and soft assignments in one pass (what a loss
        needing both similarities and soft assignments, e.g. Sinkhorn targets, calls)."""
        projected = self.project(features)
        similarities = self.similarities_of_projected(projected)
        return HeadOutput(projected, similarities, self.soft_assignments(similarities))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, K) soft assignments, rows summing to 1."""
        return self.soft_assignments(self.similarities(features))

    def hard_targets(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, K) one-hot of the nearest centre; no gradient (the
        self-supervised target)."""
        with torch.no_grad():
            similarities = self.similarities(features)
            labels = similarities.argmax(dim=1)
            return F.one_hot(labels, self.n_clusters).to(similarities.dtype)

    def extra_repr(self) -> str:
        return (
            f"n_clusters={self.n_clusters}, d={self.out_features}, "
            f"similarity={self.similarity!r}, temperature={self.temperature}"
        )


class MultilayerSOCH(nn.Module):
    """Several SOCHs, each clustering in its own space ("clustering in several spaces").

    layers: [(projection_dim, n_clusters), ...], one head each; projection_dim None means the
    head reads its input as it is.

    arrangement "cascade" (default, the paper's word): head l's projection reads the projected
    features of head l-1 (head 0 reads the backbone feature), so the spaces are nested, e.g.
    512 -> 128 (K = 30) -> 32 (K = 10): the last space is built from the earlier ones, so the
    earlier clusterings (e.g. an over-clustering) shape the space the final one works in, and
    the last head's loss trains every projection. "parallel": every head reads the backbone
    feature through its own projection; the heads then interact only through the backbone.

    `forward` (N, in_features) -> list of (N, K_l) soft assignments, one per layer;
    `outputs` -> list of `HeadOutput`. `n_clusters` is the last head's K: the number of clusters
    the method predicts.
    """

    def __init__(
        self,
        in_features: int,
        layers: Sequence[tuple[int | None, int]],
        *,
        similarity: str = "cosine",
        temperature: float = 0.1,
        arrangement: str = "cascade",
    ) -> None:
        super().__init__()
        if arrangement not in ARRANGEMENTS:
            raise DataError(f"arrangement must be one of {ARRANGEMENTS}; got {arrangement!r}")
        layers = list(layers)
        if not layers:
            raise DataError("layers must list at least one (projection_dim, n_clusters) pair")
        heads = []
        head_input = in_features
        for index, layer in enumerate(layers):
            if not (isinstance(layer, tuple | list) and len(layer) == 2):
                raise DataError(
                    f"layers[{index}] must be a pair (projection_dim, n_clusters); got {layer!r}"
                )
            projection_dim, n_clusters = layer
            head = SelfOrganizingHead(
                head_input,
                n_clusters,
                similarity=similarity,
                temperature=temperature,
                projection_dim=projection_dim,
            )
            heads.append(head)
            if arrangement == "cascade":
                head_input = head.out_features
        self.heads = nn.ModuleList(heads)
        self.in_features = in_features
        self.arrangement = arrangement
        self.layers = [(projection_dim, n_clusters) for projection_dim, n_clusters in layers]
        self.n_clusters: int = heads[-1].n_clusters

    def outputs(self, features: torch.Tensor) -> list[HeadOutput]:
        """(N, in_features) -> one `HeadOutput` per layer, in layer order."""
        results = []
        head_input = features
        for head in self.heads:
            result = head.outputs(head_input)
            results.append(result)
            if self.arrangement == "cascade":
                head_input = result.features
        return results

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        """(N, in_features) -> [(N, K_0), ..., (N, K_last)] soft assignments."""
        return [result.soft for result in self.outputs(features)]


def multilayer_soch_loss_parts(
    outputs_a: Sequence[HeadOutput],
    outputs_b: Sequence[HeadOutput],
    **options: Any,
) -> dict[str, torch.Tensor]:
    """S3OCNet's multilayer loss on two views: the per-layer `soch_loss_parts` added up.

    outputs_a, outputs_b: `MultilayerSOCH.outputs` of the two views (same number of layers).
    `options` go to `explore.losses.soch_loss_parts` (anti_collapse, balance_weight, ...).
    Returns {"self_label", "balance", "loss"} summed over layers, plus each layer's
    "layer{l}_loss" (detached, for logs): back-propagate "loss", do not sum the dict.
    """
    if len(outputs_a) != len(outputs_b) or not outputs_a:
        raise DataError(
            f"outputs_a and outputs_b must hold the same number (>= 1) of layers; got "
            f"{len(outputs_a)} and {len(outputs_b)}"
        )
    total: dict[str, torch.Tensor] = {}
    for index, (layer_a, layer_b) in enumerate(zip(outputs_a, outputs_b, strict=True)):
        parts = soch_loss_parts(
            layer_a.soft, layer_b.soft, layer_a.similarities, layer_b.similarities, **options
        )
        for key in ("self_label", "balance", "loss"):
            total[key] = total[key] + parts[key] if key in total else parts[key]
        total[f"layer{index}_loss"] = parts["loss"].detach()
    return total
