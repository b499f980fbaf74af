"""Where the tests find the real benchmark data: the folder named by EXPLORE_DATA_DIR, else
../shared/data beside the repository. A module of its own (not conftest.py, whose name the
notebooks' conftest.py shares) so that test modules and helper scripts can import it."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    configured = os.environ.get("EXPLORE_DATA_DIR", "").split(os.pathsep)[0]
    return Path(configured) if configured else REPO.parent / "shared" / "data"
