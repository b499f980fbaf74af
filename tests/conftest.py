"""Shared fixtures and the `datasets` marker. Where real data comes from, and what happens
when it is missing: `shared_data.py`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from shared_data import (  # tests/ is on sys.path
    data_dirs_setting,
    require_datasets,
    require_shared_data,
)

_SESSION_CACHE = tempfile.mkdtemp(prefix="explore-test-cache-")


def pytest_configure(config: pytest.Config) -> None:
    """The whole session (module fixtures included) reads the test data folders and an empty
    cache of its own; each test then gets a fresh cache (`_isolated_cache`)."""
    os.environ["EXPLORE_DATA_DIR"] = data_dirs_setting()
    os.environ["EXPLORE_CACHE_DIR"] = _SESSION_CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("datasets"):
        require_datasets(*marker.args)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's shared data folder (its own layout: hsi/, digits/, natural/, ...)."""
    return require_shared_data()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test reads the test data folders and downloads into a fresh, empty cache, so no
    test touches the user's cache or data folders."""
    monkeypatch.setenv("EXPLORE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("EXPLORE_DATA_DIR", data_dirs_setting())


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch):
    """One torch / BLAS / OpenMP thread for the test, whatever the machine and OMP_NUM_THREADS:
    seeded training takes another path with another thread count (or instruction set), so a
    test comparing scores fixes it. Restored afterwards."""
    from threadpoolctl import threadpool_limits

    monkeypatch.setenv("EXPLORE_THREADS", "1")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(previous)
