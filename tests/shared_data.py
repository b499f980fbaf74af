"""Where the tests find real data, and what a test does when some is missing.

The data folders, decided once when the tests start: the folders named by EXPLORE_DATA_DIR
when it is set; else the project's shared folder ``../shared/data`` beside the repository when
it exists; else the user's download cache, which `explore download NAME ... | --all` fills.
Every test then runs with EXPLORE_DATA_DIR set to them and a fresh, empty download cache
(`conftest._isolated_cache`), so no test downloads or writes into the user's folders.

A test that needs a registered dataset says so (`@pytest.mark.datasets("salinas_a")`, or
`dataset_path`); one that needs the shared folder's own files (format variants that no download
gives, e.g. the uncorrected Salinas-A cube) asks for the `data_dir` fixture. When the data is
not here the test is skipped with one line naming the command that gets it, except where
EXPLORE_REQUIRE_DATA=1 (CI, `.ci/run`): there it fails.

A module of its own (not conftest.py, whose name the notebooks' conftest.py shares) so that
test modules and helper scripts can import it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from explore.data import registry

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REQUIRE_ENV = "EXPLORE_REQUIRE_DATA"


def _data_dirs() -> list[Path]:
    configured = registry.data_dirs()
    if configured:
        return configured
    if (SHARED_DATA / "README.md").is_file():
        return [SHARED_DATA]
    return [registry.cache_dir()]


NOTEBOOK_DATASETS: dict[str, tuple[str, ...]] = {
    "04_cc_and_sacc.ipynb": ("mnist_test",),
    "06_transfer_umap_dpgmm.ipynb": ("cifar10_subset", "rsscn7_subset"),
}
"""The registered datasets a tutorial notebook reads that are not embedded in a package."""

DATA_DIRS: list[Path] = _data_dirs()
"""The folders the tests read data from (see the module docstring)."""


def data_dirs_setting() -> str:
    """EXPLORE_DATA_DIR's value for the tests and the servers and commands they start."""
    return os.pathsep.join(str(path) for path in DATA_DIRS)


def shared_data_dir() -> Path | None:
    """The project's shared data folder (its README.md marks it) among the data folders."""
    return next((path for path in DATA_DIRS if (path / "README.md").is_file()), None)


def data_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def missing(reason: str) -> None:
    """Skip the running test for want of data (fail it where data is required)."""
    if data_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def _test_environment() -> Iterator[None]:
    """The data folders the tests use and an empty cache, for a lookup outside a test."""
    saved = {name: os.environ.get(name) for name in (registry.DATA_DIR_ENV, "EXPLORE_CACHE_DIR")}
    with tempfile.TemporaryDirectory(prefix="explore-empty-cache-") as empty_cache:
        os.environ[registry.DATA_DIR_ENV] = data_dirs_setting()
        os.environ["EXPLORE_CACHE_DIR"] = empty_cache
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@cache
def _is_available(name: str) -> bool:
    with _test_environment():
        return registry.is_available(name)


def _download_hint(names: list[str]) -> str:
    command = f"explore download {' '.join(names)}"
    if any(file.known_hash is None for n in names for file in registry.get_entry(n).files):
        command += " --allow-unverified"
    return command


def require_datasets(*names: str) -> None:
    """Skip (or fail, see `missing`) unless every dataset in `names` is on this machine."""
    absent = [name for name in names if not _is_available(name)]
    if absent:
        listed = ", ".join(repr(name) for name in absent)
        missing(
            f"dataset {listed} not on this machine: `{_download_hint(absent)}` fetches it "
            "(or set EXPLORE_DATA_DIR)"
        )


def dataset_path(name: str, role: str = "cube") -> Path:
    """The file (or folder) of a registered dataset's `role` ("cube", "labels", "images"), as
    the registry finds it in the test data folders; skips like `require_datasets`."""
    require_datasets(name)
    with _test_environment():
        return registry.locate(name)[role]


def require_shared_data() -> Path:
    """The project's shared data folder, or skip (fail where data is required)."""
    path = shared_data_dir()
    if path is None:
        missing(
            "needs the project's shared data folder (../shared/data, or EXPLORE_DATA_DIR "
            "pointing at it): its format variants are not downloadable"
        )
    return path
