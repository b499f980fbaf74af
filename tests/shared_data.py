"""Where the tests find the real benchmark data (`explore.dashboard.browser.data_dir`: the
folder named by EXPLORE_DATA_DIR, else ../shared/data beside the repository). A module of its
own (not conftest.py, whose name the notebooks' conftest.py shares) so that test modules and
helper scripts can import it."""

from __future__ import annotations

from pathlib import Path

from explore.dashboard.browser import data_dir


def shared_data_dir() -> Path:
    return Path(data_dir())
