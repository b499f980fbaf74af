"""Shared fixtures. Tests read real data from the folder named by EXPLORE_DATA_DIR
(the README's test command points it at ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import shared_data_dir as _shared_data_dir  # tests/ is on sys.path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark data folder; a test that needs it fails loudly when it is missing."""
    path = _shared_data_dir()
    if not (path / "README.md").is_file():
        pytest.fail(f"real data folder not found at {path}: set EXPLORE_DATA_DIR")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point the download cache at a fresh folder so tests never touch the user's cache."""
    monkeypatch.setenv("EXPLORE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(_shared_data_dir()))
