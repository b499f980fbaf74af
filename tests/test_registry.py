"""Tests of the dataset registry: entries, local lookup, the offline default, the cache, and
real downloads from an HTTP server started on 127.0.0.1 (checksums, failures, policy)."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import re
import shutil
import socket
import threading
import time
import zipfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pooch
import pytest
from shared_data import dataset_path

from explore.data import registry
from explore.data.images import ImageSet
from explore.data.registry import (
    REGISTRY,
    DatasetEntry,
    availability,
    cache_dir,
    data_dirs,
    get_entry,
    is_available,
    list_datasets,
    load_dataset,
    load_images,
    load_scene,
    locate,
)
from explore.data.scene import Scene
from explore.errors import ChecksumError, DataError, DatasetNotFoundError

HASH_PATTERN = re.compile(r"^(sha256:[0-9a-f]{64}|md5:[0-9a-f]{32})$")
EXPECTED_CLASSES = {
    "indian_pines": 16,
    "salinas": 16,
    "salinas_a": 6,
    "pavia_university": 9,
    "ksc": 13,
    "botswana": 14,
    "samson": 3,
    "mnist_test": 10,
    "digits": 10,
    "cifar10_subset": 10,
    "rsscn7_subset": 7,
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """EXPLORE_DATA_DIR pointing at an empty folder: nothing local but packages and cache."""
    folder = tmp_path / "empty_data"
    folder.mkdir()
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(folder))
    return folder


# ---------------------------------------------------------------------------------- entries
def test_every_entry_is_complete() -> None:
    assert set(REGISTRY) == set(EXPECTED_CLASSES)
    assert [entry.name for entry in list_datasets()][:7] == [
        name for name, entry in REGISTRY.items() if entry.kind == "hsi"
    ]
    for name, entry in REGISTRY.items():
        assert entry.name == name
        assert entry.kind in ("hsi", "images")
        assert entry.description
        assert len(entry.shape) == (3 if entry.kind == "hsi" else 4)
        assert entry.n_classes == EXPECTED_CLASSES[name] == len(entry.class_names)
        assert len(set(entry.class_names)) == entry.n_classes
        assert entry.files
        roles = [data_file.role for data_file in entry.files]
        assert len(roles) == len(set(roles))
        assert ("cube" if entry.kind == "hsi" else "images") in roles
        for data_file in entry.files:
            # Downloadable from a URL, or shipped inside an installed package.
            assert data_file.urls or (entry.package and data_file.package_path)
            for url in data_file.urls:
                assert url.startswith(("http://", "https://"))
            if data_file.known_hash is not None:
                assert HASH_PATTERN.match(data_file.known_hash), data_file.known_hash


def test_registry_records_the_published_quirks() -> None:
    assert get_entry("samson").class_names == ("rock/soil", "tree", "water")
    assert get_entry("ksc").file("cube").url.startswith("http://www.ehu.es/")
    assert get_entry("botswana").file("cube").url.startswith("http://www.ehu.es/")
    assert get_entry("indian_pines").file("cube").alternatives == ("Indian_pines_corrected.npy",)
    assert get_entry("cifar10_subset").file("images").known_hash == (
        "md5:c58f30108f718f92721af3b95e74349a"
    )
    assert get_entry("rsscn7_subset").file("images").known_hash is None
    assert "gt" in get_entry("salinas").file("labels").keys


def test_known_hashes_match_the_real_local_copies(data_dir: Path) -> None:
    """Where the canonical file itself is in the data folder, its recorded sha256 holds."""
    checked = 0
    for entry in REGISTRY.values():
        for data_file in entry.files:
            if not (data_file.known_hash or "").startswith("sha256:"):
                continue
            copies = list(data_dir.rglob(data_file.name))
            for copy in copies:
                assert _sha256(copy) == data_file.known_hash.removeprefix("sha256:"), copy
                checked += 1
    # Indian_pines_gt.mat, both Salinas-A files, PaviaU_gt.mat, Samson, the two MNIST files.
    assert checked == 7


@pytest.mark.datasets("salinas_a")
def test_get_entry_suggests_close_names() -> None:
    with pytest.raises(DatasetNotFoundError, match="did you mean 'indian_pines'"):
        get_entry("indian_pine")
    with pytest.raises(DatasetNotFoundError, match="known datasets"):
        get_entry("no such thing at all")
    assert get_entry("Salinas-A") is REGISTRY["salinas_a"]
    assert load_scene("Salinas-A", download=False).name == "salinas_a"
    with pytest.raises(DatasetNotFoundError, match="did you mean 'samson'"):
        load_dataset("samsom", download=False)


def test_data_dirs_reads_the_path_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("EXPLORE_DATA_DIR", f"{first}{os.pathsep}{second}")
    assert data_dirs() == [first, second]
    monkeypatch.delenv("EXPLORE_DATA_DIR")
    assert data_dirs() == []
    monkeypatch.setenv("EXPLORE_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"


# ---------------------------------------------------------------------------------- local files
@pytest.mark.parametrize(
    ("name", "shape", "counts"),
    [
        ("indian_pines", (145, 145, 200), None),
        ("salinas_a", (83, 86, 204), [391, 1343, 616, 1525, 674, 799]),
        ("samson", (95, 95, 156), [3015, 3666, 2344]),
    ],
)
def test_local_scenes(data_dir: Path, name: str, shape: tuple, counts: list | None) -> None:
    paths = locate(name)
    assert all(data_dir in path.parents for path in paths.values())
    assert availability(name).startswith(f"local: {data_dir}")
    scene = load_scene(name, download=False)
    assert scene.shape == shape
    assert scene.n_classes == EXPECTED_CLASSES[name]
    assert scene.class_names == REGISTRY[name].class_names
    if counts is not None:
        assert list(scene.class_counts().values()) == counts


@pytest.mark.datasets("salinas_a")
def test_salinas_a_labels_are_remapped_and_named() -> None:
    scene = load_scene("salinas_a", download=False)
    assert scene.label_values == (1, 10, 11, 12, 13, 14)
    assert set(np.unique(scene.labels)) == set(range(7))
    assert scene.class_names[1] == "Corn_senesced_green_weeds"


def test_local_image_sets(data_dir: Path) -> None:
    mnist = load_images("mnist_test", download=False)
    assert mnist.images.shape == (10000, 1, 28, 28)
    assert list(mnist.class_counts().values()) == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert set(locate("mnist_test")) == {"images", "labels"}

    cifar = load_images("cifar10_subset", download=False)
    assert cifar.images.shape == (1000, 3, 32, 32)
    assert set(cifar.class_counts().values()) == {100}
    assert cifar.class_names == REGISTRY["cifar10_subset"].class_names
    assert locate("cifar10_subset")["images"] == data_dir / "natural" / "cifar10_test_subset"

    small = load_images("cifar10_subset", download=False, size=16)
    assert small.images.shape == (1000, 3, 16, 16)


def test_rsscn7_subset_resized(data_dir: Path) -> None:
    images = load_images("rsscn7_subset", download=False, size=(24, 24))
    assert images.images.shape == (350, 3, 24, 24)
    assert set(images.class_counts().values()) == {50}
    assert images.class_names[0] == "aGrass"


def test_digits_come_from_scikit_learn(empty_data_dir: Path) -> None:
    assert availability("digits") == "embedded (sklearn)"
    digits = load_images("digits", download=False)
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.n_classes == 10


def test_kind_is_checked(data_dir: Path) -> None:
    with pytest.raises(DataError, match="image set, not a hyperspectral scene"):
        load_scene("digits")
    with pytest.raises(DataError, match="hyperspectral scene, not an image set"):
        load_images("salinas_a", download=False)
    with pytest.raises(DataError, match="size= applies to image sets"):
        load_dataset("salinas_a", download=False, size=8)


def test_ground_truth_only_scenes_say_where_the_cube_is(data_dir: Path) -> None:
    for name in ("pavia_university", "salinas", "ksc"):
        assert availability(name).startswith("ground truth only: ")
        assert not is_available(name)
        with pytest.raises(DatasetNotFoundError) as caught:
            locate(name)
        message = str(caught.value)
        assert "ground truth only locally" in message
        assert REGISTRY[name].file("cube").url in message
    assert availability("botswana").startswith("download (unverified")


def test_search_below_a_data_folder_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shallow = tmp_path / "shallow" / "x" / "y"
    deep = tmp_path / "deep" / "a" / "b" / "c" / "d" / "e"
    for folder in (shallow, deep):
        folder.mkdir(parents=True)
        for role in ("cube", "labels"):
            shutil.copy(dataset_path("salinas_a", role), folder)
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(tmp_path / "shallow"))
    assert locate("salinas_a")["cube"] == shallow / "SalinasA_corrected.mat"
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(tmp_path / "deep"))
    assert not is_available("salinas_a")


def test_explicit_paths(data_dir: Path, tmp_path: Path) -> None:
    # A registered cube file: read with the entry's metadata and its labels file beside it.
    scene = load_dataset(data_dir / "hsi" / "salinas_a" / "SalinasA_corrected.mat")
    assert isinstance(scene, Scene)
    assert scene.n_classes == 6 and scene.class_names == REGISTRY["salinas_a"].class_names
    # Any other scene file reads as a plain scene.
    other = tmp_path / "my_scene.npy"
    np.save(other, np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4))
    plain = load_dataset(str(other))
    assert isinstance(plain, Scene) and plain.shape == (2, 3, 4) and plain.labels is None
    # A folder of class sub-folders, and an IDX pair.
    folder = load_dataset(data_dir / "natural" / "cifar10_test_subset", size=8)
    assert isinstance(folder, ImageSet) and folder.images.shape == (1000, 3, 8, 8)
    mnist = load_dataset(data_dir / "digits" / "mnist" / "t10k-images-idx3-ubyte.gz")
    assert isinstance(mnist, ImageSet) and mnist.n_classes == 10 and mnist.labels is not None
    # An .npz with images and labels.
    archive = tmp_path / "tiny.npz"
    np.savez(archive, images=np.zeros((4, 5, 5), np.uint8), labels=np.array([0, 1, 0, 1]))
    tiny = load_dataset(archive)
    assert isinstance(tiny, ImageSet) and tiny.images.shape == (4, 1, 5, 5)
    with pytest.raises(DatasetNotFoundError, match="no file or folder"):
        load_dataset(tmp_path / "missing.mat")
    with pytest.raises(DatasetNotFoundError, match="no file or folder"):
        load_dataset("missing_scene.mat")


# ---------------------------------------------------------------------------------- offline default
def test_offline_default_is_indian_pines_from_tensorly(empty_data_dir: Path) -> None:
    assert registry.DEFAULT_SCENE == "indian_pines"
    assert availability("indian_pines") == "embedded (tensorly)"
    paths = locate("indian_pines")
    assert {path.name for path in paths.values()} == {
        "Indian_pines_corrected.npy",
        "Indian_pines_gt.npy",
    }
    assert all("tensorly" in path.parts for path in paths.values())
    scene = load_scene(download=False)
    assert scene.name == "indian_pines"
    assert scene.shape == (145, 145, 200)
    assert scene.n_classes == 16
    assert scene.wavelengths is not None and scene.wavelengths.shape == (200,)
    assert scene.wavelengths[0] == pytest.approx(400.02)


def test_nothing_local_and_no_download_says_where_it_looked(empty_data_dir: Path) -> None:
    assert availability("salinas_a") == "download"
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("salinas_a", download=False)
    message = str(caught.value)
    assert str(empty_data_dir) in message
    assert str(cache_dir() / "salinas_a") in message
    assert REGISTRY["salinas_a"].file("cube").url in message
    assert "download=True" in message


# ---------------------------------------------------------------------------------- cache
def test_files_in_the_cache_are_found(empty_data_dir: Path) -> None:
    folder = cache_dir() / "salinas_a"
    folder.mkdir(parents=True)
    for role in ("cube", "labels"):
        shutil.copy(dataset_path("salinas_a", role), folder)
    assert locate("salinas_a") == {
        "cube": folder / "SalinasA_corrected.mat",
        "labels": folder / "SalinasA_gt.mat",
    }
    assert availability("salinas_a") == f"local: {folder / 'SalinasA_corrected.mat'}"
    assert load_scene("salinas_a", download=False).n_classes == 6


def test_corrupt_cache_file_is_refused(empty_data_dir: Path) -> None:
    folder = cache_dir() / "samson"
    folder.mkdir(parents=True)
    damaged = dataset_path("samson").read_bytes()[:-10]
    (folder / "samson_dataset.mat").write_bytes(damaged)
    with pytest.raises(ChecksumError, match="samson_dataset.mat"):
        locate("samson")
    assert not is_available("samson")


# ---------------------------------------------------------------------------------- downloads
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server:
    """A static HTTP server on 127.0.0.1 (port chosen by the OS) in a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        handler = partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Serves real Salinas-A files; downloads time out after 2 s."""
    root = tmp_path / "served"
    root.mkdir()
    for role in ("cube", "labels"):
        shutil.copy(dataset_path("salinas_a", role), root)
    monkeypatch.setenv("EXPLORE_DOWNLOAD_TIMEOUT", "2")
    running = _Server(root)
    yield running
    running.stop()


def _served_entry(base_url: str, **changes: object) -> DatasetEntry:
    """Salinas-A under another name, its files served from `base_url`."""
    entry = REGISTRY["salinas_a"]
    files = tuple(replace(f, url=f"{base_url}/{f.name}") for f in entry.files)
    return replace(entry, **{"name": "salinas_a_served", "files": files, **changes})


def _cached_files() -> list[Path]:
    return [path for path in cache_dir().rglob("*") if path.is_file()]


def test_download_verifies_and_loads(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    assert availability(entry) == "download"
    scene = load_scene(entry)
    assert scene.shape == (83, 86, 204) and scene.n_classes == 6
    folder = cache_dir() / "salinas_a_served"
    assert sorted(path.name for path in _cached_files()) == [
        "SalinasA_corrected.mat",
        "SalinasA_gt.mat",
    ]
    assert _sha256(folder / "SalinasA_gt.mat") == entry.file("labels").known_hash.split(":")[1]
    assert pooch.get_logger().level == logging.WARNING
    # Found in the cache afterwards, with the server gone.
    server.stop()
    assert availability(entry).startswith(f"local: {folder}")
    assert load_scene(entry, download=False).n_classes == 6


def test_checksum_mismatch_leaves_nothing(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    wrong = replace(entry.files[0], known_hash="sha256:" + "0" * 64)
    entry = replace(entry, files=(wrong, entry.files[1]))
    with pytest.raises(ChecksumError, match="SalinasA_corrected.mat"):
        locate(entry, download=True)
    assert _cached_files() == []


def test_md5_hashes_are_verified(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    served = server.root / "SalinasA_gt.mat"
    good = replace(entry.files[1], known_hash="md5:" + hashlib.md5(served.read_bytes()).hexdigest())
    entry = replace(entry, files=(entry.files[0], good))
    assert locate(entry, download=True)["labels"].is_file()


def test_download_replaces_a_corrupt_cached_file(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    folder = cache_dir() / entry.name
    folder.mkdir(parents=True)
    (folder / "SalinasA_gt.mat").write_bytes(b"not the ground truth")
    with pytest.raises(ChecksumError, match="download=True"):
        locate(entry, download=False)
    labels = locate(entry, download=True)["labels"]
    assert labels == folder / "SalinasA_gt.mat"
    assert _sha256(labels) == _sha256(server.root / "SalinasA_gt.mat")


def test_server_gone_is_a_quick_not_found(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    server.stop()
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as caught:
        locate(entry, download=True)
    assert time.monotonic() - start < 5
    assert f"{server.url}/SalinasA_corrected.mat" in str(caught.value)
    assert "ConnectionError" in str(caught.value)
    assert _cached_files() == []


def test_silent_server_times_out(empty_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_DOWNLOAD_TIMEOUT", "0.5")
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        entry = _served_entry(f"http://127.0.0.1:{listener.getsockname()[1]}")
        start = time.monotonic()
        with pytest.raises(DatasetNotFoundError, match="Timeout"):
            locate(entry, download=True)
        assert time.monotonic() - start < 5


def test_missing_url_then_mirror(server: _Server, empty_data_dir: Path) -> None:
    entry = _served_entry(server.url)
    broken = tuple(
        replace(f, url=f"{server.url}/gone/{f.name}", mirrors=(f"{server.url}/{f.name}",))
        for f in entry.files
    )
    assert locate(replace(entry, files=broken), download=True)["cube"].is_file()
    no_mirror = tuple(replace(f, mirrors=()) for f in broken)
    with pytest.raises(DatasetNotFoundError, match="404"):
        locate(replace(entry, name="salinas_a_404", files=no_mirror), download=True)


def test_unverified_files_need_permission(
    server: _Server, empty_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = _served_entry(server.url)
    entry = replace(entry, files=tuple(replace(f, known_hash=None) for f in entry.files))
    assert availability(entry).startswith("download (unverified")
    with pytest.raises(DatasetNotFoundError, match="allow_unverified=True") as caught:
        locate(entry, download=True)
    assert "EXPLORE_ALLOW_UNVERIFIED" in str(caught.value)
    assert _cached_files() == []
    assert load_scene(entry, allow_unverified=True).n_classes == 6
    shutil.rmtree(cache_dir() / entry.name)
    monkeypatch.setenv("EXPLORE_ALLOW_UNVERIFIED", "1")
    assert locate(entry, download=True)["cube"].is_file()


def test_archive_download_is_extracted(server: _Server, empty_data_dir: Path) -> None:
    """A GitHub-style archive (<repository>-<commit>/<class>/<image>) becomes an image set."""
    from PIL import Image

    archive = server.root / "scenes.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("repo-0123/README.md", "not an image")
        for label in ("aGrass", "bField", "cIndustry"):
            for index in range(3):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                image_path = server.root / f"{label}{index}.png"
                Image.fromarray(pixels).save(image_path)
                zipped.write(image_path, f"repo-0123/{label}/{index:03d}.png")
    template = REGISTRY["rsscn7_subset"]
    entry = replace(
        template,
        name="scenes_served",
        shape=(6, 3, 8, 8),
        n_classes=3,
        class_names=("aGrass", "bField", "cIndustry"),
        max_per_class=2,
        files=(replace(template.files[0], name="scenes.zip", url=f"{server.url}/scenes.zip"),),
    )
    images = load_images(entry, allow_unverified=True)
    assert images.images.shape == (6, 3, 8, 8)
    assert images.class_names == ("aGrass", "bField", "cIndustry")
    assert locate(entry)["images"].name == "repo-0123"


# ---------------------------------------------------------------------------------- download
def _register(monkeypatch: pytest.MonkeyPatch, *entries: DatasetEntry) -> None:
    """Make `entries` the whole registry for one test (what `--all` walks). The one registry
    dict is emptied and filled in place, so every module sharing it (`explore.data.catalogue`,
    where it lives, and the modules that re-export it) sees the same entries."""
    for name in list(registry.REGISTRY):
        monkeypatch.delitem(registry.REGISTRY, name)
    for entry in entries:
        monkeypatch.setitem(registry.REGISTRY, entry.name, entry)


def test_download_into_a_folder_makes_it_a_data_folder(
    server: _Server, empty_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from explore.cli import main

    entry = _served_entry(server.url)
    _register(monkeypatch, entry)
    target = tmp_path / "my data"
    assert main(["download", entry.name, "--dir", str(target)]) == 0
    printed = capsys.readouterr().out
    assert f"{entry.name}: fetching SalinasA_corrected.mat, 1.5 MB from {server.url}" in printed
    assert f"{entry.name}: downloaded (in {target / entry.name})" in printed
    assert f"EXPLORE_DATA_DIR={target.resolve()}" in printed
    assert _cached_files() == []  # the cache was not used
    for data_file in entry.files:
        assert _sha256(target / entry.name / data_file.name) == data_file.known_hash[7:]
    server.stop()
    # Run again with no server: nothing to fetch.
    assert main(["download", entry.name, "--dir", str(target)]) == 0
    assert "already here" in capsys.readouterr().out
    # The folder is a data folder: found there with downloads off.
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(target))
    assert locate(entry)["cube"] == target / entry.name / "SalinasA_corrected.mat"
    assert load_scene(entry, download=False).n_classes == 6


def test_download_to_the_cache_skips_what_is_already_here(
    server: _Server, empty_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = _served_entry(server.url)
    first = registry.download(entry)
    assert first.status == "downloaded"
    assert first.paths["cube"] == cache_dir() / entry.name / "SalinasA_corrected.mat"
    server.stop()
    again = registry.download(entry)
    assert again.status == "present" and again.where.startswith("local: ")
    assert again.paths == first.paths


def test_download_all_skips_unverified_and_carries_on_past_failures(
    server: _Server, empty_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from explore.cli import main

    good = _served_entry(server.url)
    unverified = _served_entry(server.url, name="unverified_served")
    unverified = replace(
        unverified, files=tuple(replace(f, known_hash=None) for f in unverified.files)
    )
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    broken = _served_entry(closed, name="broken_served")
    _register(monkeypatch, broken, unverified, good)
    assert main(["download", "--all"]) == 2
    captured = capsys.readouterr()
    assert "unverified_served: skipped (no published checksum" in captured.out
    assert f"{good.name}: downloaded" in captured.out
    assert "cannot download SalinasA_corrected.mat for dataset 'broken_served'" in captured.err
    assert captured.err.strip().splitlines()[-1] == "explore: error: not downloaded: broken_served"
    assert not (cache_dir() / "unverified_served").exists()
    # Named explicitly, an unverified file is an error unless allowed.
    assert main(["download", "unverified_served"]) == 2
    assert "--allow-unverified" in capsys.readouterr().err
    assert main(["download", "unverified_served", "--allow-unverified", "--quiet"]) == 0
    assert (cache_dir() / "unverified_served" / "SalinasA_gt.mat").is_file()


def test_download_needs_names_or_all(capsys) -> None:
    from explore.cli import main

    assert main(["download"]) == 2
    assert main(["download", "--all", "salinas_a"]) == 2
    assert "name the datasets to download, or pass --all" in capsys.readouterr().err
    assert main(["download", "salinas_aa"]) == 2
    assert "did you mean 'salinas_a'" in capsys.readouterr().err


def test_an_archive_in_a_data_folder_is_unpacked_into_the_cache(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`download --dir` unpacks archives beside them; an archive a user put in a data folder
    is unpacked into the cache, so the user's folder is never written to."""
    from PIL import Image

    archive = server.root / "scenes.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for label in ("aGrass", "bField"):
            for index in range(2):
                image_path = server.root / f"{label}{index}.png"
                Image.fromarray(np.full((8, 8, 3), 40 * index, dtype=np.uint8)).save(image_path)
                zipped.write(image_path, f"repo-0123/{label}/{index:03d}.png")
    template = REGISTRY["rsscn7_subset"]
    entry = replace(
        template,
        name="scenes_served",
        shape=(4, 3, 8, 8),
        n_classes=2,
        class_names=("aGrass", "bField"),
        max_per_class=2,
        files=(replace(template.files[0], name="scenes.zip", url=f"{server.url}/scenes.zip"),),
    )
    target = tmp_path / "downloaded"
    result = registry.download(entry, folder=target, allow_unverified=True)
    assert result.paths["images"] == target / entry.name / "scenes.unzip" / "repo-0123"
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(target))
    assert locate(entry)["images"] == result.paths["images"]
    assert load_images(entry, download=False).images.shape == (4, 3, 8, 8)
    # By hand: only the archive, in a folder of the user's.
    by_hand = tmp_path / "by_hand"
    by_hand.mkdir()
    shutil.copy(archive, by_hand / "scenes.zip")
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(by_hand))
    found = locate(entry)["images"]
    assert found.is_relative_to(cache_dir()) and found.name == "repo-0123"
    assert sorted(path.name for path in by_hand.iterdir()) == ["scenes.zip"]
