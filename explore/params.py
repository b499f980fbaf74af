"""The one way an estimator's `__init__` stores its arguments (`store_init_params`).

scikit-learn's rule for estimators (what `get_params`, `set_params` and `clone` rely on): every
argument of `__init__` is kept, unchanged and under its own name, as an attribute, and
`__init__` does nothing else; checks wait for `fit`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["store_init_params"]


def store_init_params(estimator: object, arguments: dict[str, Any]) -> None:
    """Set each of `arguments` (`locals()` taken as `__init__`'s first statement: its
    parameters) as the attribute of the same name on `estimator`, unchanged."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
