"""The dashboard's upload: a user's own scene or image set, read with the library's readers,
kept in a per-session folder removed at the session's end, offered under "upload: <name>" to
that session only; bad files give a one-line message and change nothing."""

from __future__ import annotations

import io
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from explore.dashboard.app import Dashboard
from explore.dashboard.session import TrainingSession
from explore.dashboard.upload import (
    UploadControl,
    extract_zip,
    max_upload_bytes,
    websocket_message_bytes,
)
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.errors import DatasetNotFoundError, FileFormatError

RNG = np.random.default_rng(0)


def _cube(height: int = 6, width: int = 5, bands: int = 4) -> np.ndarray:
    return RNG.random((height, width, bands)).astype(np.float32)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _png_bytes(value: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _link_zip() -> bytes:
    """A zip whose one member is a symbolic link to /etc."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("pets/cat")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc")
    return buffer.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def control() -> UploadControl:
    """An upload control over a fresh session; its folder removed after the test."""
    session = TrainingSession()
    upload = UploadControl(session=session)
    yield upload
    upload.remove()
    session.close(timeout=60)


def _uploaded(control: UploadControl, files: list[tuple[str, bytes]]) -> Scene | ImageSet:
    """Upload `files`, which must be accepted; the session's dataset is then the upload."""
    assert control.upload(files), control.error
    name = control.session.dataset
    assert name.startswith("upload: ")
    assert name in control.session.param.dataset.objects
    return control.session.load(name)


# ------------------------------------------------------------------ accepted formats
def test_npy_scene_is_offered_and_trains(control: UploadControl) -> None:
    cube = _cube()
    scene = _uploaded(control, [("my cube.npy", _npy_bytes(cube))])
    assert isinstance(scene, Scene) and scene.shape == (6, 5, 4)
    np.testing.assert_allclose(scene.cube, cube)
    assert control.session.dataset == "upload: my cube.npy"
    assert "Loaded my cube.npy" in control.message and not control.alert.visible
    session = control.session
    session.param.update(method="kmeans", n_clusters=3)
    assert session.start(), session.error
    session.join(120)
    assert session.status == "finished", session.error
    assert next(iter(session.runs.values())).labels.shape == (6, 5)


def test_mat_scene_with_labels(control: UploadControl, tmp_path: Path) -> None:
    labels = np.arange(30).reshape(6, 5) % 3 + 1
    path = tmp_path / "scene.mat"
    scipy.io.savemat(path, {"cube": _cube(), "gt": labels.astype(np.uint8)})
    scene = _uploaded(control, [("scene.mat", path.read_bytes())])
    assert isinstance(scene, Scene)
    np.testing.assert_array_equal(scene.labels, labels)


def test_npz_image_set(control: UploadControl) -> None:
    buffer = io.BytesIO()
    images = RNG.integers(0, 255, (10, 8, 8, 3), dtype=np.uint8)
    np.savez(buffer, images=images, labels=np.arange(10) % 2)
    images_set = _uploaded(control, [("set.npz", buffer.getvalue())])
    assert isinstance(images_set, ImageSet) and images_set.n_images == 10
    session = control.session  # an uploaded image set trains like a registered one
    session.param.update(method="kmeans", n_clusters=2)
    assert session.start(), session.error
    session.join(120)
    assert session.status == "finished", session.error


def test_zip_of_class_folders(control: UploadControl) -> None:
    members = {
        f"pets/{kind}/{i}.png": _png_bytes(40 * i) for kind in ("cat", "dog") for i in (1, 2)
    }
    images = _uploaded(control, [("pets.zip", _zip_bytes(members))])
    assert isinstance(images, ImageSet)
    assert images.n_images == 4 and tuple(images.class_names) == ("cat", "dog")


def test_envi_pair_and_zip(control: UploadControl, tmp_path: Path) -> None:
    envi = pytest.importorskip("spectral.io.envi", reason="ENVI needs the spectral package")
    cube = _cube()
    envi.save_image(str(tmp_path / "cube.hdr"), cube, interleave="bsq", ext=".img")
    header, data = (tmp_path / "cube.hdr").read_bytes(), (tmp_path / "cube.img").read_bytes()
    scene = _uploaded(control, [("cube.hdr", header), ("cube.img", data)])
    np.testing.assert_allclose(scene.cube, cube)
    scene = _uploaded(control, [("envi.zip", _zip_bytes({"cube.hdr": header, "cube.img": data}))])
    np.testing.assert_allclose(scene.cube, cube)


def test_geotiff(control: UploadControl, tmp_path: Path) -> None:
    pytest.importorskip("rasterio", reason="GeoTIFF needs the rasterio package")
    from geotiff_files import write_geotiff  # tests/ is on sys.path

    cube = _cube()
    path = write_geotiff(tmp_path / "scene.tif", cube)
    scene = _uploaded(control, [("scene.tif", path.read_bytes())])
    np.testing.assert_allclose(scene.cube, cube)


def test_same_name_twice_keeps_both(control: UploadControl) -> None:
    first = _uploaded(control, [("a.npy", _npy_bytes(_cube()))])
    second = _uploaded(control, [("a.npy", _npy_bytes(_cube(4, 4, 3)))])
    assert control.session.dataset == "upload: a.npy (2)"
    assert control.session.load("upload: a.npy") is first and second.shape == (4, 4, 3)


# ------------------------------------------------------------------ refused files
def _nan_cube() -> bytes:
    cube = _cube()
    cube[1, 2, 3] = np.nan
    return _npy_bytes(cube)


BAD_FILES = {
    "corrupt": [("broken.npy", _npy_bytes(_cube())[:100])],
    "wrong shape": [("flat.npy", _npy_bytes(np.ones(7, dtype=np.float32)))],
    "nan cube": [("nan.npy", _nan_cube())],
    "unknown format": [("notes.mat", b"just some text, not a MATLAB file\n" * 4)],
    "traversal zip": [("evil.zip", _zip_bytes({"../../escaped.hdr": b"ENVI\n"}))],
    "link zip": [("link.zip", _link_zip())],
    "absolute zip": [("evil.zip", _zip_bytes({"/tmp/escaped.png": _png_bytes(1)}))],
    "three files": [("a.npy", b"1"), ("b.npy", b"2"), ("c.hdr", b"3")],
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_one_message_and_changes_nothing(control: UploadControl, case: str) -> None:
    session = control.session
    before, choices = session.dataset, list(session.param.dataset.objects)
    assert not control.upload(BAD_FILES[case])
    assert control.error and "\n" not in control.error
    assert control.alert.visible and control.error in control.alert.object
    assert str(control.folder) not in control.error  # file names only, not the server's folder
    assert session.dataset == before and list(session.param.dataset.objects) == choices
    assert not list(control.folder.parent.glob("escaped*"))
    assert not any(control.folder.rglob("escaped*"))


def test_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_UPLOAD_MAX_MB", "0.001")  # about 1 kB
    assert max_upload_bytes() == 1048
    assert websocket_message_bytes(3000) == 4000 + 1024 * 1024
    session = TrainingSession()
    control = UploadControl(session=session)
    try:
        assert not control.upload([("big.npy", _npy_bytes(_cube(20, 20, 4)))])
        assert "over the limit" in control.error and "EXPLORE_UPLOAD_MAX_MB" in control.error
        assert control.upload([("small.npy", _npy_bytes(_cube(2, 2, 2)))]), control.error
    finally:
        control.remove()
    monkeypatch.setenv("EXPLORE_UPLOAD_MAX_MB", "0.01")  # an .npz unpacking to 4 x 10 kB
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=np.zeros((100, 32, 32), dtype=np.uint8))
    control = UploadControl(session=session)
    try:
        assert not control.upload([("zeros.npz", buffer.getvalue())])
        assert "times the upload limit" in control.error
    finally:
        control.remove()
    monkeypatch.setenv("EXPLORE_UPLOAD_MAX_MB", "nonsense")
    assert max_upload_bytes() == 512 * 1024 * 1024


def test_folders_of_open_sessions_go_when_the_server_exits(control: UploadControl) -> None:
    from explore.dashboard import upload

    assert control.upload([("a.npy", _npy_bytes(_cube()))])
    folder = control.folder
    assert folder in upload._LIVE_FOLDERS
    upload._remove_live_folders()  # what the interpreter runs at exit
    assert not folder.exists()


def test_zip_unpacking_past_the_limits_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from explore.dashboard import upload

    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/x.png", bytes(200_000))
    (tmp_path / "out").mkdir()
    with pytest.raises(FileFormatError, match="4 times the upload limit"):
        extract_zip(path, tmp_path / "out", max_unpacked=100_000)
    assert not list((tmp_path / "out").iterdir())
    monkeypatch.setattr(upload, "MAX_ZIP_MEMBERS", 2)
    many = tmp_path / "many.zip"
    many.write_bytes(_zip_bytes({f"a/{i}.png": b"" for i in range(3)}))
    with pytest.raises(FileFormatError, match="holds 3 files"):
        extract_zip(many, tmp_path / "out", max_unpacked=100_000)


# ------------------------------------------------------------------ confinement and end
@pytest.mark.parametrize(
    "name", ["upload: ../../etc/passwd", "upload: /etc/passwd", "/etc/passwd", "upload: a.npy"]
)
def test_typed_names_never_open_paths(control: UploadControl, name: str) -> None:
    session = control.session
    with pytest.raises(DatasetNotFoundError):
        session.load(name)
    with pytest.raises(ValueError):
        session.dataset = name  # not among the choices
    _uploaded(control, [("a.npy", _npy_bytes(_cube()))])
    if name != "upload: a.npy":
        with pytest.raises(DatasetNotFoundError):
            session.load(name)
    # An upload named like a registered dataset never replaces it.
    _uploaded(control, [("indian_pines", _npy_bytes(_cube()))])
    assert control.session.dataset == "upload: indian_pines"
    assert session.load("indian_pines").shape == (145, 145, 200)
    other = TrainingSession()  # another session never sees this one's uploads
    assert "upload: a.npy" not in other.param.dataset.objects
    with pytest.raises(DatasetNotFoundError):
        other.load("upload: a.npy")


def test_folder_is_removed_at_session_end() -> None:
    dashboard = Dashboard()
    assert dashboard.upload.upload([("cube.npy", _npy_bytes(_cube()))])
    folder = dashboard.upload.folder
    assert folder is not None and any(folder.rglob("cube.npy"))
    assert dashboard.scene_view.dataset == "upload: cube.npy"  # a scene: shown in the Scene tab
    assert dashboard.scene_view.ground_truth() is not None  # no labels: an empty map
    assert "0 labelled pixels" in dashboard.scene_view.legend().object
    dashboard.end_session(timeout=30).join(60)
    assert not folder.exists()
    assert dashboard.session.uploads == {}


def test_upload_through_the_file_input(control: UploadControl) -> None:
    """The widget's values (a list with `multiple=True`) reach the same reading path."""
    control.file_input.param.update(filename=["w.npy"], value=[_npy_bytes(_cube())])
    deadline = time.monotonic() + 5
    while control.session.dataset != "upload: w.npy" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert control.session.dataset == "upload: w.npy"
