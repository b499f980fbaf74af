"""Clustering methods, one file per method, each following scikit-learn's estimator conventions:
hyper-parameters in `__init__`, `fit` returns `self`, learned state ends in `_` (`labels_`)."""

from __future__ import annotations

import importlib

from explore.errors import DataError

# Deep methods by command-line name -> "module:class" (imported only when asked for).
DEEP_METHODS: dict[str, str] = {
    "sscc": "explore.methods.sscc:SSCC",
    "cc": "explore.methods.cc:CC",
    "sacc": "explore.methods.sacc:SACC",
    "s3ocnet": "explore.methods.s3ocnet:S3OCNet",
}


def get_method_class(name: str) -> type:
    """The class of a deep method by its name (`sscc`, ...)."""
    if name not in DEEP_METHODS:
        raise DataError(f"unknown deep method {name!r}; choose one of {sorted(DEEP_METHODS)}")
    module_name, class_name = DEEP_METHODS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
