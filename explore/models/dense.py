"""Models made of a backbone and per-item heads, and their dense (full-image) inference.

`BackboneWithHeads` is the base of every method's network: `forward(x)` is
`from_features(backbone(x))` and `embed(x)` the backbone's features. The heads (Linear layers,
softmax, self-organizing heads) act on each item's feature vector alone, so when the backbone is
dense-capable (`explore.models.backbones.is_dense_capable`) the whole model is too:
`dense_forward` runs the backbone once over a padded tile of a scene and applies the heads to the
(H x W, d) features, giving every pixel's output, equal to the patch-by-patch `forward`.
"""

from __future__ import annotations

import torch
from torch import nn

from explore.errors import DataError
from explore.models.backbones import is_dense_capable

HEAD_CHUNK = 16_384
"""Pixels whose features go through the heads at once (bounds the heads' temporaries)."""


class BackboneWithHeads(nn.Module):
    """A backbone (`self.backbone`) and heads on its features (`from_features`, per item).

    Subclasses set `backbone` and implement `from_features` ((N, d) -> (N, ...))."""

    backbone: nn.Module

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """The model's outputs (N, ...) from backbone features (N, d)."""
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features (N, d) of inputs (N, C, P, P)."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_features(self.backbone(x))

    @property
    def dense_capable(self) -> bool:
        """Whether `dense_forward` can run (the backbone is dense-capable)."""
        return is_dense_capable(self.backbone)

    def dense_forward(
        self, padded: torch.Tensor, patch_size: int, *, embed: bool = False
    ) -> torch.Tensor:
        """Every pixel's output of a tile: `padded` (1, C, H + 2r, W + 2r) or (C, H + 2r,
        W + 2r), the tile with r = patch_size // 2 pixels of context on every side (scene
        border padded as the patch sampler pads), on the model's device -> (H, W, out):
        `forward` (or `embed` with `embed=True`) of the patch centred on each pixel.

        Call it in eval mode (BatchNorm's running statistics), under `torch.no_grad()`."""
        if not self.dense_capable:
            raise DataError(
                f"backbone {type(self.backbone).__name__} pads inside the patch, so it only runs "
                "patch by patch (use a dense-capable backbone, e.g. dense_light7)"
            )
        if padded.ndim == 3:
            padded = padded.unsqueeze(0)
        if padded.ndim != 4 or padded.shape[0] != 1:
            raise DataError(f"dense_forward takes one padded tile; got shape {tuple(padded.shape)}")
        features = self.backbone.dense_forward(padded, patch_size)  # (1, d, H, W)
        height, width = int(features.shape[-2]), int(features.shape[-1])
        flat = features[0].flatten(1).transpose(0, 1)  # (H * W, d)
        if embed:
            return flat.reshape(height, width, -1)
        parts = [
            self.from_features(flat[start : start + HEAD_CHUNK])
            for start in range(0, flat.shape[0], HEAD_CHUNK)
        ]
        outputs = parts[0] if len(parts) == 1 else torch.cat(parts)
        return outputs.reshape(height, width, -1)
