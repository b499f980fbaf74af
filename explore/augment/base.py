"""The `Augmentation` base class, its registry and the checks every operation shares.

An augmentation is a `param.Parameterized` with a `name` (its registry key), parameters declared
with the types of `explore.augment.parameters` (param owns their defaults, bounds and
validation; they read back as a JSON-friendly dict, `params()`), and a `__call__` that
transforms a whole batch of patches (N, B, P, P) on the batch's device in one go. The registry
maps each `name` to its class, so a dashboard or a saved run can rebuild any operation, or a
nested pool of them, from plain dicts (`build`, `from_dict`).

Randomness and seeding: every random draw is made with torch on `x.device`. Pass
`generator=torch.Generator(device=x.device).manual_seed(seed)` to an operation (or a pool) for a
reproducible draw; without it the device's global generator is used (seed it with
`torch.manual_seed`). Draws are made in float32 whatever the batch's dtype, so the same seed
makes the same decisions for float32 and float64 batches.

Probability `p`: unless an operation's docstring says otherwise, `p` is the probability that the
operation is applied to each sample (p = 0 returns the input unchanged, p = 1 always applies).
The choice is a per-sample mask applied with `torch.where`, so the batch is still one call.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import param
import torch

from explore.augment.parameters import Probability
from explore.errors import DataError

_REGISTRY: dict[str, type[Augmentation]] = {}


def check_batch(x: Any, owner: str) -> torch.Tensor:
    """Check that `x` is a floating tensor of shape (N, B, H, W); return it."""
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{owner}: x must be a torch.Tensor (N, B, H, W); got {type(x).__name__}")
    if x.ndim != 4:
        raise DataError(f"{owner}: x must have 4 axes (N, B, H, W); got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise DataError(f"{owner}: x must be a floating tensor; got dtype {x.dtype}")
    return x


def check_generator(generator: torch.Generator | None, x: torch.Tensor, owner: str) -> None:
    """Check that `generator` (if any) lives on the batch's device type."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise DataError(
            f"{owner}: generator must be a torch.Generator or None; got {type(generator).__name__}"
        )
    if generator.device.type != x.device.type:
        raise DataError(
            f"{owner}: generator is on {generator.device} but x is on {x.device}; "
            f"make it with torch.Generator(device=x.device)"
        )


# --------------------------------------------------------------------------------------------
# Random draws on the batch's device, float32 then cast, so seeds mean the same for all dtypes.


def uniform(
    shape: tuple[int, ...],
    low: float,
    high: float,
    x: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Uniform draws in [low, high) of `shape`, on x's device, in x's dtype."""
    draw = torch.rand(shape, generator=generator, device=x.device, dtype=torch.float32)
    return (low + (high - low) * draw).to(x.dtype)


def bernoulli_mask(
    shape: tuple[int, ...], p: float, x: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Boolean mask of `shape` on x's device, each entry True with probability p."""
    draw = torch.rand(shape, generator=generator, device=x.device, dtype=torch.float32)
    return draw < p


def per_sample(mask: torch.Tensor) -> torch.Tensor:
    """Reshape a (N,) mask or value to (N, 1, 1, 1) so it broadcasts over a batch."""
    return mask.reshape(-1, 1, 1, 1)


# --------------------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    """Parameters as JSON-friendly values: tuples become lists, operations become dicts."""
    if isinstance(value, Augmentation):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_format_value(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


class _OperationClass(type(param.Parameterized)):  # type: ignore[misc]
    """Lets an operation class say `name = "band_mask"`: `param.Parameterized` reserves `name`
    for a String parameter, so the registry key becomes that parameter's (constant) default;
    `BandMask.name` and `BandMask().name` are both "band_mask", and it is not a parameter of
    the operation (`parameter_names`)."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> type:
        key = namespace.get("name")
        if isinstance(key, str):
            namespace["name"] = param.String(
                default=key, constant=True, precedence=-1, doc="registry key"
            )
        return super().__new__(mcs, name, bases, namespace)


class Augmentation(param.Parameterized, metaclass=_OperationClass):
    """A batched, parameterised tensor operation on patches (N, B, P, P).

    Subclasses set the class attribute `name` (registry key), declare each parameter as a `param`
    Parameter (see `explore.augment.parameters`: bounds, types and defaults live there, and
    `param` validates every value), and implement `_apply(x, generator)`, which transforms
    every sample of `x`. The base class draws which samples are transformed (probability `p`)
    and keeps the others. Operations never modify their input; when nothing is applied the
    input itself may be returned. Parameters may be given by keyword or, in `parameter_names`
    order, by position: `GaussianBlur(3, (0.1, 2.0))`.
    """

    p = Probability(1.0, doc="probability that the operation is applied to each sample")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("name")
        registered = declared.default if isinstance(declared, param.String) else ""
        if registered:
            previous = _REGISTRY.get(registered)
            same_class = previous is not None and (
                (previous.__module__, previous.__qualname__) == (cls.__module__, cls.__qualname__)
            )  # a module reloaded (notebook autoreload) registers its classes again
            if previous is not None and not same_class:
                raise DataError(
                    f"augmentation name {registered!r} is used by both "
                    f"{previous.__qualname__} and {cls.__qualname__}"
                )
            _REGISTRY[registered] = cls

    def __init__(self, *args: Any, **params: Any) -> None:
        owner = type(self).__name__
        names = self.parameter_names()
        if len(args) > len(names):
            raise DataError(f"{owner} takes at most {len(names)} parameters; got {len(args)}")
        given = dict(zip(names, args, strict=False))
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise DataError(
                f"{owner} got unknown parameter(s) {unknown}; expected some of {list(names)}"
            )
        twice = sorted(set(given) & set(params))
        if twice:
            raise DataError(f"{owner} got parameter(s) {twice} both by position and by name")
        super().__init__(**given, **params)  # each value validated by its Parameter
        self._check_together()

    def _check_together(self) -> None:
        """Checks across parameters (e.g. one weight per operation); none by default."""

    # -- parameters ---------------------------------------------------------------------------

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The operation's parameters in declaration order, `p` last (what `params()` returns
        and the order positional arguments take)."""
        names = [name for name in cls.param if name not in ("name", "p")]
        return (*names, "p")

    def params(self) -> dict[str, Any]:
        """The operation's parameters as a JSON-friendly dict (lists for pairs, nested dicts)."""
        return {name: _to_json(getattr(self, name)) for name in self.parameter_names()}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Augmentation:
        """Build an operation of this class from a `params()` dict (validated again)."""
        if not isinstance(params, Mapping):
            raise DataError(f"{cls.__name__} params must be a dict; got {type(params).__name__}")
        return cls(**params)

    def with_params(self, **changes: Any) -> Augmentation:
        """A new operation with some parameters changed (validated); this one is unchanged."""
        return self.from_params({**self.params(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """`{"name": ..., "params": {...}}`: enough for `from_dict` to rebuild the operation."""
        return {"name": self.name, "params": self.params()}

    # -- application --------------------------------------------------------------------------

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Transform a batch (N, B, H, W); returns the same shape, dtype and device."""
        owner = type(self).__name__
        check_batch(x, owner)
        check_generator(generator, x, owner)
        if x.shape[0] == 0 or self.p == 0.0:
            return x
        return self._forward(x, generator)

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Apply to each sample with probability `p` (one `_apply` call over the batch)."""
        if self.p >= 1.0:
            return self._apply(x, generator)
        chosen = bernoulli_mask((x.shape[0],), self.p, x, generator)
        transformed = self._apply(x, generator)
        return torch.where(per_sample(chosen), transformed, x)

    def _apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    # -- reading ------------------------------------------------------------------------------

    def describe_lines(self, indent: int = 0) -> list[str]:
        """One line per operation, `name(param=value, ...)`, indented two spaces per level."""
        shown = ", ".join(
            f"{key}={_format_value(getattr(self, key))}" for key in self.parameter_names()
        )
        return [f"{'  ' * indent}{self.name}({shown})"]

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={getattr(self, key)!r}" for key in self.parameter_names())
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__  # param.Parameterized's is "<Class name>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Augmentation):
            return NotImplemented
        return type(self) is type(other) and self.params() == other.params()

    __hash__ = None  # type: ignore[assignment]  # parameters are editable, so not hashable


def registered_names() -> tuple[str, ...]:
    """The names `build` and `from_dict` accept, sorted."""
    return tuple(sorted(_REGISTRY))


def describe_operation(name: str) -> str:
    """What the registered operation `name` does, in a sentence or two: the first paragraph of
    its class docstring (written once there, shown by the dashboard and the notebooks)."""
    if name not in _REGISTRY:
        raise DataError(f"unknown augmentation {name!r}; known: {', '.join(registered_names())}")
    doc = inspect.getdoc(_REGISTRY[name]) or name
    return " ".join(doc.split("\n\n")[0].split())


def build(name: str, **params: Any) -> Augmentation:
    """The operation registered under `name`, built with `params`: `build("band_mask", p=0.3)`."""
    if name not in _REGISTRY:
        raise DataError(
            f"unknown augmentation name {name!r}; registered: {', '.join(registered_names())}"
        )
    return _REGISTRY[name].from_params(params)


def from_dict(spec: Mapping[str, Any]) -> Augmentation:
    """Rebuild an operation (or a nested pool) from `to_dict()` output."""
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise DataError(f"augmentation spec must be a dict with a 'name' key; got {spec!r}")
    unknown = sorted(set(spec) - {"name", "params"})
    if unknown:
        raise DataError(f"augmentation spec has unknown key(s) {unknown}; expected name, params")
    params = spec.get("params", {})
    if not isinstance(params, Mapping):
        raise DataError(f"augmentation spec 'params' must be a dict; got {params!r}")
    return build(spec["name"], **params)


def as_augmentation(value: Augmentation | Mapping[str, Any], owner: str) -> Augmentation:
    """Accept an operation or its `to_dict()` form (used by pools to take either)."""
    if isinstance(value, Augmentation):
        return value
    if isinstance(value, Mapping):
        return from_dict(value)
    raise DataError(f"{owner} must hold Augmentation objects or dicts; got {type(value).__name__}")
