"""Test settings for the tutorial notebooks, run by nbval (`pytest --nbval-lax notebooks/`, and
by the project's plain `pytest` run, whose testpaths include this folder).

- `EXPLORE_NOTEBOOK_SMALL=1` (unless already set) before any kernel starts: kernels inherit the
  environment, and every notebook reads it in its first code cell to pick tiny sizes.
- `EXPLORE_DATA_DIR` is the tests' data folders (tests/shared_data.py: EXPLORE_DATA_DIR, else
  ../shared/data, else the download cache); a notebook that reads a dataset missing there is
  skipped with the command that fetches it (failed with EXPLORE_REQUIRE_DATA=1, as in CI).
- Kernels start with `OMP_NUM_THREADS=1` (unless already set), only they (not this process or
  the other tests' subprocesses): on a 2-core machine with one other busy process, one SSCC
  small-mode epoch took 1.3 s with one torch thread and 2.5-12 s with two (oversubscribed).
- The outputs nbval receives for each cell are kept by `NotebookOutputs`, so
  tests/test_notebooks.py checks the figures of notebooks that already ran in this session
  instead of executing them a second time; its tests that read them run after the notebooks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_NAME = "explore-notebook-outputs"

sys.path.insert(0, str(REPO / "tests"))  # also when this folder is run alone
from shared_data import NOTEBOOK_DATASETS, data_dirs_setting, require_datasets  # noqa: E402

os.environ.setdefault("EXPLORE_NOTEBOOK_SMALL", "1")
os.environ["EXPLORE_DATA_DIR"] = data_dirs_setting()


KERNEL_ENV = {"OMP_NUM_THREADS": "1"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """nbval starts a notebook's kernel while setting up its first cell: start it with
    `KERNEL_ENV` (values already in the environment win), then restore this process's. A
    notebook whose datasets are missing is skipped (or failed) before its kernel starts."""
    require_datasets(*NOTEBOOK_DATASETS.get(item.path.name, ()))
    saved = {name: os.environ.get(name) for name in KERNEL_ENV}
    for name, value in KERNEL_ENV.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class NotebookOutputs:
    """Outputs of every notebook cell nbval ran in this session: `cells[notebook path][n]` is
    the list of outputs (nbformat nodes) of the n-th code cell."""

    # Tests that read these outputs ask for this fixture; they are moved after the notebooks.
    FIXTURE = "executed_notebook"

    def __init__(self) -> None:
        self.cells: dict[str, dict[int, list[Any]]] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        yield  # the cell has run (or failed); nbval stored what the kernel sent back
        outputs = getattr(item, "test_outputs", None)
        cell_num = getattr(item, "cell_num", None)
        if outputs is not None and cell_num is not None and item.path.suffix == ".ipynb":
            self.cells.setdefault(str(item.path.resolve()), {})[cell_num] = list(outputs)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        readers = [item for item in items if self.FIXTURE in getattr(item, "fixturenames", ())]
        if readers and any(item.path.suffix == ".ipynb" for item in items):
            items[:] = [item for item in items if item not in readers] + readers

    def outputs_of(self, notebook: Path, n_code_cells: int) -> list[list[Any]] | None:
        """Every code cell's outputs, or None unless nbval ran all of them in this session."""
        ran = self.cells.get(str(Path(notebook).resolve()), {})
        if sorted(ran) != list(range(n_code_cells)):
            return None
        return [ran[index] for index in range(n_code_cells)]


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(NotebookOutputs(), PLUGIN_NAME)
