"""Shared fixtures. Tests read real data from the folder named by EXPLORE_DATA_DIR
(the README's test command points it at ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    configured = os.environ.get("EXPLORE_DATA_DIR", "").split(os.pathsep)[0]
    return Path(configured) if configured else REPO.parent / "shared" / "data"


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
