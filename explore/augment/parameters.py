"""The parameter types of augmentation operations: `param` Parameters that also normalise.

Each operation declares its parameters with these (`Probability`, `Real`, `Count`, `OddSize`,
`Flag`, `Interval`, `IntInterval`). `param` owns the bounds, the type checks, the defaults and
the order; these subclasses add what JSON and the old constructors need: a JSON list is read as
a tuple, a single number as the interval (v, v), ints as floats where a float is meant, bools
refused where a number is meant, and non-finite numbers refused. Any refusal is raised as a
`DataError` naming the operation and the parameter and saying what was expected (`expects`),
whether the value came from a constructor, `from_dict`, or an assignment.
"""

from __future__ import annotations

import math
from typing import Any

import param

from explore.errors import DataError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Checked:
    """Mixin for a `param.Parameter`: normalise a value, check what param does not, then let
    param validate it; every failure becomes a DataError naming `Owner.parameter`."""

    __slots__ = ()

    def expects(self) -> str:
        """What a valid value is, in words (used in errors and in the editor's tooltips)."""
        raise NotImplementedError

    def normalise(self, value: Any) -> Any:
        """The value as stored (ValueError or TypeError if it cannot be)."""
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        try:
            normalised = self.normalise(value)
            super().__set__(obj, normalised)  # type: ignore[misc]  # param's own validation
        except DataError:
            raise
        except (ValueError, TypeError):
            owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
            name = self.name  # type: ignore[attr-defined]
            raise DataError(f"{owner}.{name} must be {self.expects()}; got {value!r}") from None


def _bounds_text(bounds: tuple[Any, Any], inclusive: tuple[bool, bool], noun: str) -> str:
    low, high = bounds
    if low is not None and high is not None:
        left, right = ("[" if inclusive[0] else "("), ("]" if inclusive[1] else ")")
        return f"{noun} in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        return f"{noun} {'>=' if inclusive[0] else '>'} {_number(low)}"
    if high is not None:
        return f"{noun} {'<=' if inclusive[1] else '<'} {_number(high)}"
    return noun


class Real(_Checked, param.Number):
    """A finite float within `bounds` (None where `allow_None`); an int is stored as a float."""

    __slots__ = ()

    def expects(self) -> str:
        text = _bounds_text(self.bounds or (None, None), self.inclusive_bounds, "a finite number")
        return f"{text} or None" if self.allow_None else text

    def normalise(self, value: Any) -> Any:
        if value is None and self.allow_None:
            return None
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(value)
        return float(value)


class Probability(Real):
    """A probability in [0, 1] (spin step 0.05)."""

    __slots__ = ()

    def __init__(self, default: float = 1.0, **params: Any) -> None:
        super().__init__(default=default, bounds=(0.0, 1.0), step=0.05, **params)

    def expects(self) -> str:
        return "a probability in [0, 1]"


class Count(_Checked, param.Integer):
    """An int within `bounds` (bools refused)."""

    __slots__ = ()

    def expects(self) -> str:
        return _bounds_text(self.bounds or (None, None), self.inclusive_bounds, "an integer")

    def normalise(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(value)
        return value


class OddSize(Count):
    """An odd positive int: a centred kernel's size (spin step 2)."""

    __slots__ = ()

    def __init__(self, default: int = 3, **params: Any) -> None:
        super().__init__(default=default, bounds=(1, None), step=2, **params)

    def expects(self) -> str:
        return "an odd positive integer"

    def normalise(self, value: Any) -> Any:
        value = super().normalise(value)
        if value % 2 == 0:
            raise ValueError(value)
        return value


class Flag(_Checked, param.Boolean):
    """A bool (JSON true / false)."""

    __slots__ = ()

    def expects(self) -> str:
        return "true or false"


class Interval(_Checked, param.Range):
    """A (low, high) pair of finite floats with low <= high, within `bounds`.

    A JSON list is read as a pair and a single number as the degenerate interval (v, v).
    `inclusive_bounds=(False, True)` makes the lower bound open (e.g. a positive scale).
    """

    __slots__ = ()

    _item = "finite numbers"

    def expects(self) -> str:
        bounds = self.bounds or (None, None)
        low, high = (None if b is None else _number(b) for b in bounds)
        sign = "<=" if self.inclusive_bounds[0] else "<"
        left = f"{low} {sign} " if low is not None else ""
        right = f" <= {high}" if high is not None else ""
        return f"a pair of {self._item} (low, high) with {left}low <= high{right}"

    def _item_value(self, value: Any) -> Any:
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(value)
        return float(value)

    def normalise(self, value: Any) -> Any:
        if _is_number(value):
            value = (value, value)
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise ValueError(value)
        low, high = (self._item_value(v) for v in value)
        if low > high:
            raise ValueError(value)
        return (low, high)


class IntInterval(Interval):
    """An (low, high) pair of ints with low <= high (both included), within `bounds`."""

    __slots__ = ()

    _item = "ints"

    def expects(self) -> str:
        return f"an int or {super().expects()}"

    def _item_value(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(value)
        return value


__all__ = ["Count", "Flag", "IntInterval", "Interval", "OddSize", "Probability", "Real"]
