"""Scenes larger than memory: lazy cubes (memory-mapped .npy and ENVI, windowed reads), halos
and patches that equal the in-memory sampler's, tiled prediction equal to in-memory prediction,
label maps written to a file, epochs of N samples, evaluation on a sample, and the errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import dataset_path

from explore.cli import main
from explore.data.lazy import (
    WindowedCube,
    gather_pixels,
    label_map_file,
    read_halo_block,
    read_patches,
    tile_grid,
)
from explore.data.preprocess import SpectralPreprocessor
from explore.data.readers import read_scene
from explore.data.registry import load_scene
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError, FileFormatError
from explore.methods.sscc import SSCC
from explore.training import RunHistory

TINY = {
    "patch_size": 5,
    "batch_size": 64,
    "n_components": 4,
    "epochs": 1,
    "device": "cpu",
    "backbone": "light",
}


@pytest.fixture(scope="module")
def salinas_a() -> Scene:
    return load_scene("salinas_a", download=False)


@pytest.fixture(scope="module")
def trained(salinas_a: Scene) -> SSCC:
    """One quick epoch on a 24 x 24 crop: the weights only need to be fixed, not good."""
    crop = salinas_a.crop(slice(20, 44), slice(30, 54))
    return SSCC(n_clusters=3, seed=0, **TINY).fit(crop)


@pytest.fixture(scope="module")
def cube_file(salinas_a: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Salinas-A's cube (83 x 86 x 204) as a .npy file, and its labels beside it."""
    folder = tmp_path_factory.mktemp("lazy")
    np.save(folder / "cube.npy", salinas_a.cube.astype(np.float32))
    np.save(folder / "labels.npy", salinas_a.labels)
    return folder / "cube.npy"


def _numpy_windowed(cube: np.ndarray, reads: list | None = None) -> WindowedCube:
    """A `WindowedCube` over an in-memory array (what rasterio gives for a GeoTIFF)."""

    def read(rows: slice, cols: slice) -> np.ndarray:
        if reads is not None:
            reads.append((rows, cols))
        return cube[rows, cols].copy()

    return WindowedCube(cube.shape, cube.dtype, read, description="test array")


# ------------------------------------------------------------------------------ lazy cubes
@pytest.mark.datasets("salinas_a")
def test_read_scene_is_lazy_above_the_threshold(
    cube_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not read_scene(cube_file).is_lazy  # 5.8 MB, below the default 1 GiB
    monkeypatch.setenv("EXPLORE_LAZY_BYTES", "1000000")
    lazy = read_scene(cube_file, labels_path=cube_file.with_name("labels.npy"))
    assert lazy.is_lazy and isinstance(lazy.cube, np.memmap)
    assert lazy.shape == (83, 86, 204) and lazy.n_classes == 6
    assert lazy.crop(slice(10, 20), slice(0, 5)).is_lazy
    assert not read_scene(cube_file, lazy=False).is_lazy
    monkeypatch.setenv("EXPLORE_LAZY_BYTES", "lots")
    with pytest.raises(DataError, match="EXPLORE_LAZY_BYTES"):
        read_scene(cube_file)


def test_lazy_reading_of_a_mat_file_is_refused() -> None:
    with pytest.raises(FileFormatError, match=r"\.npy, ENVI and GeoTIFF"):
        read_scene(dataset_path("salinas_a"), lazy=True)


def test_lazy_envi_scene_reads_as_the_array(tmp_path: Path) -> None:
    from spectral.io import envi

    cube = np.random.default_rng(0).random((13, 11, 5)).astype(np.float32)
    envi.save_image(str(tmp_path / "c.hdr"), cube, interleave="bsq", ext=".img")
    scene = read_scene(tmp_path / "c.hdr", lazy=True)
    assert scene.is_lazy
    block = read_halo_block(scene.cube, slice(0, 13), slice(0, 11), 0)
    np.testing.assert_array_equal(block, cube)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros"])
@pytest.mark.parametrize("kind", ["memmap", "windowed"])
def test_halo_blocks_and_patches_equal_the_in_memory_sampler(
    tmp_path: Path, mode: str, kind: str
) -> None:
    rng = np.random.default_rng(1)
    raw = rng.random((9, 12, 6)).astype(np.float32)
    preprocessor = SpectralPreprocessor(3).fit(Scene(raw))
    expected = PatchSampler(
        preprocessor.transform(Scene(raw)).cube, 5, padding_mode=mode
    )  # the in-memory path: preprocess, then pad
    if kind == "memmap":
        np.save(tmp_path / "raw.npy", raw)
        cube = np.load(tmp_path / "raw.npy", mmap_mode="r")
    else:
        cube = _numpy_windowed(raw)
    transform = preprocessor.transform_pixels
    for rows, cols in tile_grid(9, 12, 4):
        block = read_halo_block(cube, rows, cols, 2, mode=mode, transform=transform)
        tile = PatchSampler(block, 5, padded=True)
        local_rows, local_cols = np.meshgrid(
            np.arange(rows.stop - rows.start), np.arange(cols.stop - cols.start), indexing="ij"
        )
        got = tile.patches_at(local_rows.ravel(), local_cols.ravel())
        want = expected.patches_at(
            (local_rows + rows.start).ravel(), (local_cols + cols.start).ravel()
        )
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    pixel_rows, pixel_cols = np.array([0, 8, 4, 0, 8]), np.array([0, 11, 6, 11, 0])
    patches = read_patches(cube, pixel_rows, pixel_cols, 5, mode=mode, transform=transform)
    want = expected.patches_at(pixel_rows, pixel_cols).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(patches, want)


def test_pixel_samples_and_windows(tmp_path: Path) -> None:
    raw = np.random.default_rng(2).random((20, 7, 3)).astype(np.float32)
    reads: list = []
    windowed = _numpy_windowed(raw, reads)
    indices = np.array([139, 0, 57, 3, 57])
    np.testing.assert_array_equal(gather_pixels(windowed, indices), raw.reshape(-1, 3)[indices])
    np.save(tmp_path / "raw.npy", raw)
    mapped = np.load(tmp_path / "raw.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        gather_pixels(mapped, indices, chunk=2), raw.reshape(-1, 3)[indices]
    )
    lazy, eager = Scene(mapped), Scene(raw)
    np.testing.assert_array_equal(
        lazy.sample_pixels(50, seed=4), eager.sample_pixels(50, seed=4)
    )  # the same pixels as in memory, so the same statistics
    crop = windowed[5:9, 2:7]
    assert isinstance(crop, WindowedCube) and crop.shape == (4, 5, 3)
    np.testing.assert_array_equal(np.asarray(crop), raw[5:9, 2:7])


def test_non_finite_values_are_found_when_read(tmp_path: Path) -> None:
    raw = np.ones((10, 10, 2), dtype=np.float32)
    raw[7, 3, 1] = np.nan
    np.save(tmp_path / "bad.npy", raw)
    scene = Scene(np.load(tmp_path / "bad.npy", mmap_mode="r"))  # no scan up front
    with pytest.raises(DataError, match="row 7, column 3, band 1"):
        read_halo_block(scene.cube, slice(5, 10), slice(0, 5), 1)
    with pytest.raises(DataError, match="row 7, column 3"):
        scene.sample_pixels(100)


# ------------------------------------------------------------------------------ prediction
@pytest.mark.datasets("salinas_a")
def test_tiled_prediction_equals_in_memory_prediction(
    trained: SSCC, salinas_a: Scene, cube_file: Path, tmp_path: Path
) -> None:
    in_memory = trained.predict(salinas_a)
    lazy = read_scene(cube_file, lazy=True)
    assert lazy.is_lazy
    # Tiles of 20 px: ragged last tiles, halos crossing tiles and the scene's border.
    written = trained.predict_to_file(lazy, tmp_path / "map.npy", tile_size=20)
    np.testing.assert_array_equal(np.load(written), in_memory)
    source = trained._source_for(lazy, tile_size=31)
    torch.testing.assert_close(
        trained.trainer_.predict_proba(source), torch.from_numpy(trained.predict_proba(salinas_a))
    )
    windowed = Scene(_numpy_windowed(salinas_a.cube.astype(np.float32)))
    np.testing.assert_array_equal(trained.trainer_.assign(trained._source_for(windowed)), in_memory)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.npy"]  # no temporary left


def test_label_map_file_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "map.npy"
    with pytest.raises(RuntimeError), label_map_file(target, (4, 5)) as out:
        out[:] = 3
        raise RuntimeError("crash while filling")
    assert list(tmp_path.iterdir()) == []  # nothing under the name, no temporary
    with label_map_file(target, (4, 5)) as out:
        out[:] = 3
    assert np.load(target).dtype == np.int16 and (np.load(target) == 3).all()
    monkeypatch.setitem(sys.modules, "rasterio", None)  # import now fails as if not installed
    with (
        pytest.raises(FileFormatError, match=r"rasterio: pip install explore\[geotiff\]"),
        label_map_file(tmp_path / "m.tif", (2, 2)),
    ):
        pass


@pytest.mark.datasets("salinas_a")
def test_predict_cli_streams_a_lazy_scene(
    trained: SSCC, salinas_a: Scene, cube_file: Path, tmp_path: Path, monkeypatch
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    trained.trainer_.save_checkpoint(run / "checkpoint.pt")
    monkeypatch.setenv("EXPLORE_LAZY_BYTES", "0")  # every .npy scene is memory-mapped
    out = tmp_path / "maps" / "salinas_a.npy"
    args = ["predict", "--run", str(run), "--dataset", str(cube_file), "--out", str(out)]
    assert main([*args, "--device", "cpu"]) == 0
    np.testing.assert_array_equal(np.load(out), trained.predict(salinas_a))
    assert main([*args, "--device", "cpu"]) == 2  # never overwritten without --overwrite
    assert sorted(p.name for p in out.parent.iterdir()) == ["salinas_a.npy"]


# ------------------------------------------------------------------------------ training
@pytest.mark.datasets("salinas_a")
def test_lazy_training_equals_in_memory_training(salinas_a: Scene, cube_file: Path) -> None:
    settings = {**TINY, "samples_per_epoch": 512}
    lazy = read_scene(cube_file, labels_path=cube_file.with_name("labels.npy"), lazy=True)
    calls = {"n": 0}
    eager_model = SSCC(n_clusters=3, seed=5, **settings)
    original = eager_model.training_loss

    def counting(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    eager_model.training_loss = counting
    eager_model.fit(salinas_a)
    assert calls["n"] == 512 // 64  # an epoch is samples_per_epoch items, not every pixel
    lazy_model = SSCC(n_clusters=3, seed=5, **settings).fit(lazy)
    assert lazy_model.history_[0].losses == pytest.approx(eager_model.history_[0].losses)
    np.testing.assert_array_equal(lazy_model.labels_, eager_model.labels_)


@pytest.mark.datasets("salinas_a")
def test_large_sources_are_evaluated_on_a_sample(
    salinas_a: Scene, cube_file: Path, tmp_path: Path
) -> None:
    lazy = read_scene(cube_file, labels_path=cube_file.with_name("labels.npy"), lazy=True)
    model = SSCC(n_clusters=3, seed=0, **{**TINY, "epochs": 2, "samples_per_epoch": 128})
    trainer = model.make_trainer(lazy, checkpoint_path=tmp_path / "checkpoint.pt")
    trainer.max_eval_items = 1000  # Salinas-A's 7,138 pixels count as "large" here
    trainer.eval_sample_size = 500
    history = trainer.fit()
    for record in history:
        assert record.assignments is None
        assert sum(record.cluster_sizes) == 500
        assert set(record.metrics) == {"acc", "nmi", "ari", "kappa"}
    loaded = RunHistory.load(history.save(tmp_path / "history.npz"))
    assert [r.assignments for r in loaded] == [None, None]
    assert loaded[1].cluster_sizes == history[1].cluster_sizes
    model.adopt_trainer(trainer)
    assert model.labels_.shape == (83, 86)  # the final map is still computed, tile by tile
    resumed = SSCC(n_clusters=3, seed=0, **{**TINY, "epochs": 3, "samples_per_epoch": 128})
    resumed.fit(lazy, checkpoint_path=tmp_path / "checkpoint.pt", resume=True)
    assert [r.epoch for r in resumed.history_] == [1, 2, 3]
    assert os.path.getsize(tmp_path / "checkpoint.pt") > 0


@pytest.mark.datasets("salinas_a")
def test_samples_per_epoch_must_be_sensible(salinas_a: Scene) -> None:
    with pytest.raises(DataError, match="samples_per_epoch"):
        SSCC(n_clusters=3, **{**TINY, "samples_per_epoch": 1}).fit(salinas_a)
