"""Composition of augmentations: `Sequence`, `RandomChoice` and the `AugmentationPool` holder.

`Sequence` and `RandomChoice` are augmentations themselves, so pools nest to any depth, read
back as nested dicts (`params()` / `to_dict()`) and rebuild from them. `AugmentationPool` wraps
one root operation and is what methods, the trainer and the dashboard hold: it draws views of a
batch (one batched call per view) and previews one patch under n draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import param
import torch

from explore.augment.base import (
    Augmentation,
    as_augmentation,
    check_batch,
    check_generator,
    from_dict,
)
from explore.errors import DataError


def _operations(ops: Any, owner: str) -> list[Augmentation]:
    if isinstance(ops, Augmentation | Mapping | str) or not isinstance(ops, Iterable):
        raise DataError(f"{owner} must be a list of augmentations; got {type(ops).__name__}")
    return [as_augmentation(op, owner) for op in ops]


class Operations(param.List):
    """The `ops` of a group: a list of operations; their `to_dict()` forms are rebuilt."""

    __slots__ = ()

    def __set__(self, obj: Any, value: Any) -> None:
        owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        super().__set__(obj, _operations(value, f"{owner}.ops"))


class Sequence(Augmentation):
    """Apply `ops` one after another; the whole sequence is applied per sample with `p`.

    An empty sequence is the identity. `ops` may hold operations or their `to_dict()` forms.
    """

    name = "sequence"
    ops = Operations(default=[], item_type=Augmentation, doc="the operations, in order")

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        for op in self.ops:
            x = op(x, generator)
        return x

    def describe_lines(self, indent: int = 0) -> list[str]:
        lines = [f"{'  ' * indent}{self.name}(p={self.p:.4g})"]
        for op in self.ops:
            lines.extend(op.describe_lines(indent + 1))
        return lines


class RandomChoice(Augmentation):
    """Pick ONE of `ops` per sample (probabilities `weights`, normalised; None = uniform).

    Vectorised: each operation runs once on the sub-batch of samples that chose it
    (`index_select` / `index_copy_`), a loop over operations, not over samples. A weight of 0
    means the operation is never chosen. The choice is made for each sample with probability
    `p`; the other samples pass through unchanged.
    """

    name = "random_choice"
    ops = Operations(default=[], item_type=Augmentation, doc="the operations to choose from")
    weights = param.Parameter(default=None, doc="relative weight of each operation (None: uniform)")

    def _check_together(self) -> None:
        if not self.ops:
            raise DataError("RandomChoice.ops must hold at least one augmentation; got none")
        if self.weights is not None:
            self.weights = self._check_weights(self.weights)

    def _check_weights(self, weights: Iterable[float]) -> tuple[float, ...]:
        values = tuple(weights) if isinstance(weights, Iterable) else (weights,)
        if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in values):
            raise DataError(f"RandomChoice.weights must be numbers; got {weights!r}")
        if len(values) != len(self.ops):
            raise DataError(
                f"RandomChoice.weights must hold one weight per op ({len(self.ops)}); "
                f"got {len(values)}: {weights!r}"
            )
        if not all(0 <= w < math.inf for w in values) or sum(values) <= 0:
            raise DataError(
                f"RandomChoice.weights must be finite, >= 0 and not all 0; got {weights!r}"
            )
        return tuple(float(w) for w in values)

    def probabilities(self) -> tuple[float, ...]:
        """The normalised probability of choosing each op."""
        weights = self.weights or (1.0,) * len(self.ops)
        total = sum(weights)
        return tuple(w / total for w in weights)

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        probabilities = torch.tensor(self.probabilities(), device=x.device, dtype=torch.float32)
        choice = torch.multinomial(probabilities, x.shape[0], replacement=True, generator=generator)
        result = x.clone()
        for index, op in enumerate(self.ops):
            members = torch.nonzero(choice == index).squeeze(1)
            if members.numel() == 0:
                continue
            result.index_copy_(0, members, op(x.index_select(0, members), generator))
        return result

    def describe_lines(self, indent: int = 0) -> list[str]:
        shown = "uniform" if self.weights is None else list(self.weights)
        lines = [f"{'  ' * indent}{self.name}(weights={shown}, p={self.p:.4g})"]
        for op in self.ops:
            lines.extend(op.describe_lines(indent + 1))
        return lines


class AugmentationPool:
    """A named root augmentation that draws views of batches of patches (N, B, P, P).

    `root` may be an operation, its `to_dict()` form, or a list of either (made a `Sequence`).
    Each call transforms the whole batch at once on its device; see `explore.augment.base` for
    seeding with a `torch.Generator`.
    """

    def __init__(
        self,
        root: Augmentation | Mapping[str, Any] | Iterable[Augmentation | Mapping[str, Any]],
        name: str = "custom",
    ) -> None:
        if isinstance(root, Augmentation | Mapping):
            self.root = as_augmentation(root, "AugmentationPool.root")
        else:
            self.root = Sequence(_operations(root, "AugmentationPool.root"))
        if not isinstance(name, str) or not name:
            raise DataError(f"AugmentationPool.name must be a non-empty string; got {name!r}")
        self.name = name

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One augmented view of the batch x (N, B, P, P): same shape, dtype and device."""
        return self.root(x, generator)

    def views(
        self, x: torch.Tensor, n_views: int = 2, generator: torch.Generator | None = None
    ) -> list[torch.Tensor]:
        """`n_views` independent views of x (N, B, P, P), one batched call each."""
        if not isinstance(n_views, int) or isinstance(n_views, bool) or n_views < 1:
            raise DataError(f"n_views must be a positive integer; got {n_views!r}")
        check_batch(x, "AugmentationPool.views")
        return [self.root(x, generator) for _ in range(n_views)]

    def preview(
        self, patch: torch.Tensor, n: int = 8, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n draws of the pool on one patch (B, P, P): a tensor (n, B, P, P) for a preview grid."""
        if not isinstance(patch, torch.Tensor) or patch.ndim != 3:
            shape = tuple(patch.shape) if isinstance(patch, torch.Tensor) else type(patch).__name__
            raise DataError(f"preview: patch must be a tensor (B, P, P); got {shape}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise DataError(f"preview: n must be a positive integer; got {n!r}")
        batch = patch.unsqueeze(0).expand(n, *patch.shape).contiguous()
        check_generator(generator, batch, "AugmentationPool.preview")
        return self.root(batch, generator)

    def to_dict(self) -> dict[str, Any]:
        """`{"name": ..., "root": {...}}`, JSON-friendly; `from_dict` rebuilds the pool."""
        return {"name": self.name, "root": self.root.to_dict()}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> AugmentationPool:
        """Rebuild a pool from `to_dict()` output (every parameter validated again)."""
        if not isinstance(spec, Mapping) or "root" not in spec:
            raise DataError(f"pool spec must be a dict with a 'root' key; got {spec!r}")
        return cls(from_dict(spec["root"]), name=spec.get("name", "custom"))

    def describe(self) -> str:
        """One line per operation with its parameters, indented two spaces per nesting level."""
        return "\n".join(self.root.describe_lines())

    def __repr__(self) -> str:
        return f"AugmentationPool(name={self.name!r}, root={self.root!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AugmentationPool):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
