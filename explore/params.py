"""How parameters are taken: the one way an estimator's `__init__` stores its arguments
(`store_init_params`), and a whole number >= 0 read from text (`whole_number`).

scikit-learn's rule for estimators (what `get_params`, `set_params` and `clone` rely on): every
argument of `__init__` is kept, unchanged and under its own name, as an attribute, and
`__init__` does nothing else; checks wait for `fit`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["store_init_params", "whole_number"]


def store_init_params(estimator: object, arguments: dict[str, Any]) -> None:
    """Set each of `arguments` (`locals()` taken as `__init__`'s first statement: its
    parameters) as the attribute of the same name on `estimator`, unchanged."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def whole_number(text: str) -> int | None:
    """The whole number >= 0 that `text` spells (as `int` reads it), else None."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if number >= 0 else None
