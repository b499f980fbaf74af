"""The dashboard reads only registered datasets inside the configured data folders.

Every value the page sends comes from a browser its user controls. These tests play that user:
paths (`../`, absolute, `~`) where a dataset name is expected, values outside a widget's
options, and data folders holding symlinks that lead elsewhere. The library itself (the CLI,
notebooks) still reads any path its user gives, symlinks included.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import panel as pn
import pytest
from shared_data import dataset_path  # tests/ is on sys.path

from explore.dashboard.scene_view import SceneView, available_scenes
from explore.dashboard.session import TrainingSession, available_datasets, load_cached
from explore.data.registry import is_available, load_dataset
from explore.data.scene import Scene
from explore.errors import DatasetNotFoundError

HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "~/.ssh/id_rsa",
    "salinas_a/../../../etc/hostname",
    "hsi/salinas_a/SalinasA.mat",
    "SalinasA.mat",
    "file:///etc/passwd",
    "indian_pines\x00.mat",
    "",
]


SALINAS_A_FILES = ("SalinasA_corrected.mat", "SalinasA_gt.mat")


def _copy_salinas_a(folder: Path) -> None:
    """Salinas-A's two files (cube, ground truth) copied from the test data into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for role in ("cube", "labels"):
        source = dataset_path("salinas_a", role)
        shutil.copyfile(source, folder / source.name)


def _link_each(names: tuple[str, ...], folder: Path, target_folder: Path) -> None:
    for name in names:
        (folder / name).symlink_to(target_folder / name)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder and cache of our own; the dashboard's cache emptied around it."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(data))
    monkeypatch.setenv("EXPLORE_CACHE_DIR", str(tmp_path / "cache"))
    load_cached.cache_clear()
    yield data
    load_cached.cache_clear()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_confined_loading_refuses_paths(name: str) -> None:
    with pytest.raises(DatasetNotFoundError):
        load_dataset(name, download=False, confined=True)
    with pytest.raises(DatasetNotFoundError):
        load_cached(name)


def test_confined_loading_refuses_path_objects() -> None:
    with pytest.raises(DatasetNotFoundError, match="never a path"):
        load_dataset(Path("/etc/passwd"), download=False, confined=True)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_session_and_scene_view_refuse_values_outside_their_options(name: str) -> None:
    session = TrainingSession()
    with pytest.raises(ValueError):
        session.dataset = name
    assert session.dataset == "indian_pines"
    view = SceneView()
    with pytest.raises(ValueError):
        view.dataset = name
    assert view.dataset == "indian_pines"


def test_a_widget_message_outside_the_options_changes_nothing() -> None:
    """What a hostile browser can send: a value, or new options plus a value, for the
    dataset picker. Panel refuses the value; the session keeps its dataset."""
    session = TrainingSession()
    picker = pn.widgets.Select.from_param(session.param.dataset)
    for message in (
        {"value": "/etc/passwd"},
        {"value": "../../etc/passwd"},
        {"options": [*picker.options, "/etc/passwd"], "value": "/etc/passwd"},
    ):
        with contextlib.suppress(ValueError):  # served, Panel logs it; here it raises
            picker._process_events(message)
        assert session.dataset == "indian_pines"
    picker._process_events({"value": "digits"})  # a real choice still works
    assert session.dataset == "digits"


def test_a_symlink_out_of_the_data_folder_is_not_offered_nor_read(
    isolated: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    _copy_salinas_a(outside)
    _link_each(SALINAS_A_FILES, isolated, outside)

    assert is_available("salinas_a")  # the library follows its user's symlinks
    assert isinstance(load_dataset("salinas_a", download=False), Scene)
    assert not is_available("salinas_a", confined=True)
    assert "salinas_a" not in available_datasets()
    assert "salinas_a" not in available_scenes()
    with pytest.raises(DatasetNotFoundError, match="refused: leads to .*elsewhere"):
        load_cached("salinas_a")
    with pytest.raises(ValueError):
        TrainingSession(dataset="salinas_a")


def test_a_symlinked_folder_out_of_the_data_folder_is_refused(
    isolated: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "salinas_a"
    _copy_salinas_a(outside)
    (isolated / "hsi").mkdir()
    (isolated / "hsi" / "salinas_a").symlink_to(outside, target_is_directory=True)

    assert not is_available("salinas_a", confined=True)
    with pytest.raises(DatasetNotFoundError, match="refused"):
        load_cached("salinas_a")


def test_a_symlink_inside_the_data_folder_is_fine(isolated: Path) -> None:
    _copy_salinas_a(isolated / "originals")
    _link_each(SALINAS_A_FILES, isolated, isolated / "originals")

    assert is_available("salinas_a", confined=True)
    assert "salinas_a" in available_scenes()
    scene = load_cached("salinas_a")
    assert isinstance(scene, Scene) and scene.shape[:2] == (83, 86)


def test_a_symlink_loop_is_refused_not_followed_forever(isolated: Path) -> None:
    _copy_salinas_a(isolated / "originals")
    (isolated / "SalinasA_gt.mat").symlink_to(isolated / "originals" / "SalinasA_gt.mat")
    (isolated / "SalinasA_corrected.mat").symlink_to(isolated / "SalinasA_corrected.mat")
    assert not is_available("salinas_a", confined=True)
    with pytest.raises(DatasetNotFoundError):
        load_cached("salinas_a")
