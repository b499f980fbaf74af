"""Dense inference: a dense-capable model run over a whole (padded) scene gives every pixel the
output its patch gives, borders included, whatever the padding; tiles with a halo equal one
pass; the lazy (memory-mapped) path equals the in-memory one; the trainer's per-epoch map equals
the patch path's; `torchrun ... -m explore predict` on two processes writes the map one process
writes; checkpoints made before dense inference load as before; bad input gets one clear error.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from explore.cli import main
from explore.data import lazy
from explore.data.preprocess import SpectralPreprocessor
from explore.data.readers import read_scene
from explore.data.registry import load_scene
from explore.data.sampler import PatchSampler
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.cc import ContrastiveClusteringNet
from explore.methods.s3ocnet import SelfOrganizingNet
from explore.methods.sscc import SSCC, TwinClusterNet
from explore.models import BACKBONES, ClusterHead, MultilayerSOCH, build_backbone
from explore.models.backbones import is_dense_capable
from explore.training.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.datasets("salinas_a")

DENSE_BACKBONES = [name for name in BACKBONES if is_dense_capable(build_backbone(name, 4))]
N_COMPONENTS = 6
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
TINY = {"batch_size": 64, "n_components": 4, "epochs": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def salinas_a() -> Scene:
    return load_scene("salinas_a", download=False)


@pytest.fixture(scope="module")
def prepared(salinas_a: Scene) -> np.ndarray:
    """Salinas-A (83 x 86) standardised and reduced to 6 PCA components, as a model sees it."""
    return SpectralPreprocessor(N_COMPONENTS, seed=0).fit_transform(salinas_a).cube


def _eval_model(backbone: str, in_channels: int, seed: int = 0) -> TwinClusterNet:
    """Backbone + cluster head with random weights and random BatchNorm running statistics
    (so eval-mode BatchNorm is not the identity), in eval mode."""
    torch.manual_seed(seed)
    net = build_backbone(backbone, in_channels)
    model = TwinClusterNet(net, ClusterHead(net.out_features, 5))
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(0.1 * torch.randn(module.num_features, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
    return model.eval()


def _patch_outputs(model: torch.nn.Module, sampler: PatchSampler, embed: bool) -> torch.Tensor:
    """(H * W, out) of the patch path, every pixel, batch by batch."""
    with torch.no_grad():
        parts = [
            model.embed(patches) if embed else model(patches)
            for _, patches in sampler.batches(batch_size=2048)
        ]
    return torch.cat(parts)


@pytest.mark.parametrize("backbone", DENSE_BACKBONES)
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "zeros"])
def test_dense_outputs_equal_patch_outputs_borders_included(
    prepared: np.ndarray, backbone: str, padding_mode: str
) -> None:
    model = _eval_model(backbone, N_COMPONENTS)
    field = model.backbone.receptive_field
    # The receptive field itself (no pooling left) and a larger patch (box-filter pooling).
    for patch_size in (field, field + 2):
        sampler = PatchSampler(prepared, patch_size, padding_mode=padding_mode)
        height, width = sampler.height, sampler.width
        for embed in (False, True):
            with torch.no_grad():
                dense = model.dense_forward(sampler.padded, patch_size, embed=embed)
            patch = _patch_outputs(model, sampler, embed).reshape(height, width, -1)
            assert dense.shape == patch.shape
            torch.testing.assert_close(dense, patch, **TOLERANCE)
            # The border rows and columns are where padding enters: checked on their own too.
            for border in (dense[0], dense[-1], dense[:, 0], dense[:, -1]):
                assert torch.isfinite(border).all()
            torch.testing.assert_close(dense[:, -1], patch[:, -1], **TOLERANCE)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda net: ContrastiveClusteringNet(net, 4, instance_dim=16),
        lambda net: SelfOrganizingNet(net, MultilayerSOCH(net.out_features, [(16, 6), (8, 4)])),
    ],
    ids=["cc", "s3ocnet"],
)
def test_every_method_network_runs_densely(prepared: np.ndarray, make_model) -> None:
    """The heads (projectors, self-organizing heads) apply per pixel after the backbone."""
    torch.manual_seed(0)
    model = make_model(build_backbone("dense_light7", N_COMPONENTS)).eval()
    sampler = PatchSampler(prepared[:30, :40], 9)
    with torch.no_grad():
        dense = model.dense_forward(sampler.padded, 9)
    patch = _patch_outputs(model, sampler, embed=False).reshape(30, 40, -1)
    torch.testing.assert_close(dense, patch, **TOLERANCE)


def test_patch_only_backbones_are_not_dense_capable() -> None:
    for name in ("light", "reference", "image_small", "image_large"):
        assert not is_dense_capable(build_backbone(name, 3))
    model = TwinClusterNet(build_backbone("light", 3), ClusterHead(64, 3))
    assert not model.dense_capable
    with pytest.raises(DataError, match="pads inside the patch"):
        model.dense_forward(torch.zeros(1, 3, 20, 20), 7)


# ------------------------------------------------------------------------------ sources
@pytest.fixture(scope="module")
def trained(salinas_a: Scene) -> SSCC:
    """One quick epoch of the default backbone on a crop; the weights only need to be fixed."""
    crop = salinas_a.crop(slice(20, 52), slice(30, 62))
    return SSCC(n_clusters=4, seed=0, samples_per_epoch=256, **TINY).fit(crop)


def test_the_default_sscc_is_dense(trained: SSCC) -> None:
    assert trained.settings()["backbone"] == "dense_light7"
    assert trained.trainer_.uses_dense_inference()


def test_tiles_with_a_halo_equal_one_whole_pass(trained: SSCC, salinas_a: Scene) -> None:
    trainer = trained.trainer_
    whole = trained._source_for(salinas_a, tile_size=1000)
    tiled = trained._source_for(salinas_a, tile_size=13)  # 7 x 7 tiles, ragged at the ends
    assert len(list(tiled.dense_tiles())) == 49
    torch.testing.assert_close(trainer.predict_proba(tiled), trainer.predict_proba(whole))
    torch.testing.assert_close(trainer.embed(tiled), trainer.embed(whole))
    np.testing.assert_array_equal(trainer.assign(tiled), trainer.assign(whole))
    trainer.dense_inference = False
    try:
        patch_proba = trainer.predict_proba(whole)
        patch_map = trainer.assign(whole)
    finally:
        trainer.dense_inference = True
    torch.testing.assert_close(trainer.predict_proba(tiled), patch_proba, **TOLERANCE)
    np.testing.assert_array_equal(trainer.assign(tiled), patch_map)


def test_lazy_path_equals_in_memory_path(trained: SSCC, salinas_a: Scene, tmp_path: Path) -> None:
    np.save(tmp_path / "cube.npy", salinas_a.cube.astype(np.float32))
    lazy = read_scene(tmp_path / "cube.npy", lazy=True)
    assert lazy.is_lazy
    source = trained._source_for(lazy, tile_size=32)
    assert source.sampler is None and trained.trainer_.uses_dense_inference(source)
    in_memory = trained.predict(salinas_a)
    np.testing.assert_array_equal(trained.trainer_.assign(source), in_memory)
    torch.testing.assert_close(
        trained.trainer_.predict_proba(source),
        torch.from_numpy(trained.predict_proba(salinas_a)),
        **TOLERANCE,
    )
    trained.predict_to_file(lazy, tmp_path / "map.npy", tile_size=20)
    np.testing.assert_array_equal(np.load(tmp_path / "map.npy"), in_memory)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.npy", "map.npy"]


def test_memory_mapped_windows_are_read_in_strips(
    salinas_a: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strips of a few rows (pages released after each) give what a single read gives."""
    cube = salinas_a.cube.astype(np.float32)
    np.save(tmp_path / "cube.npy", cube)
    mapped = np.load(tmp_path / "cube.npy", mmap_mode="r")
    monkeypatch.setattr(lazy, "MAPPED_ROWS_BYTES", 3 * mapped.strides[0])  # 3 rows a strip
    window = lazy.read_window(mapped, slice(5, 62), slice(7, 80))
    np.testing.assert_array_equal(window, cube[5:62, 7:80])
    assert window.dtype == np.float32 and window.flags.c_contiguous
    # Patches (training batches) and pixel samples (preprocessing fits) likewise, in groups.
    rows, cols = np.array([0, 40, 82, 7, 60]), np.array([85, 3, 40, 0, 61])
    np.testing.assert_array_equal(
        lazy.read_patches(mapped, rows, cols, 7), lazy.read_patches(cube, rows, cols, 7)
    )
    flat = np.random.default_rng(0).choice(83 * 86, 500, replace=False)
    np.testing.assert_array_equal(lazy.gather_pixels(mapped, flat), cube.reshape(-1, 204)[flat])


def test_batchnorm_is_in_eval_mode_during_dense_passes(trained: SSCC, salinas_a: Scene) -> None:
    """A pass started from training mode uses (and leaves) the running statistics, and gives
    the model back in training mode."""
    trainer = trained.trainer_
    source = trained._source_for(salinas_a)
    trainer.model.eval()
    expected = trainer.predict_proba(source)
    norms = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    running = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    trainer.model.train()
    try:
        got = trainer.predict_proba(source)
        assert all(m.training for m in trainer.model.modules())
    finally:
        trainer.model.eval()
    torch.testing.assert_close(got, expected)
    for module, (mean, var) in zip(norms, running, strict=True):
        assert torch.equal(module.running_mean, mean) and torch.equal(module.running_var, var)


def test_trainer_epoch_maps_equal_the_patch_path_maps(salinas_a: Scene) -> None:
    crop = salinas_a.crop(slice(10, 50), slice(20, 60))
    runs = []
    for dense in (True, False):
        model = SSCC(n_clusters=4, seed=3, samples_per_epoch=512, **{**TINY, "epochs": 2})
        trainer = model.make_trainer(crop)
        trainer.dense_inference = dense
        assert trainer.uses_dense_inference() is dense
        runs.append(trainer.fit())
        assert len(trainer.assign_seconds) == 2
    for dense_record, patch_record in zip(*runs, strict=True):
        np.testing.assert_array_equal(dense_record.assignments, patch_record.assignments)
        assert dense_record.losses == patch_record.losses


def test_salinas_a_is_assigned_densely_in_one_pass(trained: SSCC, salinas_a: Scene) -> None:
    source = trained._source_for(salinas_a)
    assert len(list(source.dense_tiles())) == 1  # 83 x 86 fits the default 256 px tile
    assert trained.trainer_.assign(source).shape == (83, 86)


def test_shards_cover_the_scene_once(trained: SSCC, salinas_a: Scene) -> None:
    source = trained._source_for(salinas_a, tile_size=20)
    whole = trained.trainer_.assign(source)
    out = np.full(salinas_a.shape[:2], 255, dtype=np.uint8)
    for rank in range(3):
        trained.trainer_.assign(source, out=out, shard=(rank, 3))
    np.testing.assert_array_equal(out, whole)
    with pytest.raises(DataError, match="shard"):
        next(source.dense_tiles(shard=(3, 3)))


# ------------------------------------------------------------------------------ bad input
def test_bad_input_gets_one_clear_error(trained: SSCC, salinas_a: Scene, tmp_path: Path) -> None:
    cube = salinas_a.cube.astype(np.float32).copy()
    cube[40, 50, 7] = np.nan
    np.save(tmp_path / "nan.npy", cube)
    lazy = read_scene(tmp_path / "nan.npy", lazy=True)
    with pytest.raises(DataError, match=r"non-finite.*row 40, column 50, band 7"):
        trained.predict_to_file(lazy, tmp_path / "map.npy", tile_size=32)
    assert not (tmp_path / "map.npy").exists()
    for bad in (0, -3, 2.5, True):
        with pytest.raises(DataError, match="tile_size must be an integer >= 1"):
            trained._source_for(salinas_a, tile_size=bad)
    with pytest.raises(DataError, match=r"smaller than this backbone's receptive field \(7 x 7\)"):
        SSCC(n_clusters=3, patch_size=5, **TINY).fit(salinas_a.crop(slice(0, 20), slice(0, 20)))
    net = build_backbone("dense_light9", 4)
    with pytest.raises(DataError, match="holds no whole 9 x 9 patch"):
        net.dense_forward(torch.zeros(1, 4, 8, 30), 9)
    with pytest.raises(DataError, match=r"\(N, 4, H, W\)"):
        net.dense_forward(torch.zeros(1, 5, 20, 20), 9)


def test_a_scene_smaller_than_the_patch_is_padded_like_the_patch_path(
    trained: SSCC, salinas_a: Scene
) -> None:
    """Reflect padding works on any scene size (PatchSampler's contract): both paths agree."""
    tiny = salinas_a.crop(slice(30, 33), slice(40, 44))  # 3 x 4 pixels, patches of 7 x 7
    dense = trained.predict_proba(tiny)
    trained.trainer_.dense_inference = False
    try:
        patch = trained.predict_proba(tiny)
    finally:
        trained.trainer_.dense_inference = True
    np.testing.assert_allclose(dense, patch, **TOLERANCE)


# ------------------------------------------------------------------------------ checkpoints
def _as_made_before_dense(path: Path) -> None:
    """Rewrite a fast-config checkpoint as runs before dense inference saved it: the backbone
    and patch size left to the config (None), which then meant `light` on 7 x 7 patches."""
    state = load_checkpoint(path)
    state["extra"]["params"].update(backbone=None, patch_size=None)
    save_checkpoint(path, state)


def test_checkpoints_made_before_dense_inference_load_as_before(
    salinas_a: Scene, tmp_path: Path
) -> None:
    crop = salinas_a.crop(slice(20, 44), slice(30, 54))
    settings = {**TINY, "n_components": 8}  # as the CLI's fast config
    old = SSCC(n_clusters=3, seed=0, backbone="light", patch_size=7, **settings)
    old.fit(crop, checkpoint_path=tmp_path / "checkpoint.pt")
    _as_made_before_dense(tmp_path / "checkpoint.pt")
    loaded = SSCC.from_checkpoint(tmp_path / "checkpoint.pt", device="cpu")
    assert loaded.settings()["backbone"] == "light" and loaded.settings()["patch_size"] == 7
    assert not loaded.trainer_.uses_dense_inference()
    np.testing.assert_array_equal(loaded.predict(crop), old.predict(crop))
    # `explore train --resume` continues it with the backbone it was made with.
    np.savez(tmp_path / "crop.npz", cube=crop.cube, labels=crop.labels)
    run = tmp_path / "run"
    run.mkdir()
    args = ["train", "--method", "sscc", "--dataset", str(tmp_path / "crop.npz")]
    args += ["--clusters", "3", "--device", "cpu", "--out", str(run)]
    (run / "checkpoint.pt").write_bytes((tmp_path / "checkpoint.pt").read_bytes())
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["architecture"]["backbone"] == "light"
    # Another config's checkpoint is refused, naming the setting to change.
    with pytest.raises(Exception, match="set backbone='light' to use it"):
        SSCC(n_clusters=3, seed=0, **settings).fit(
            crop, checkpoint_path=tmp_path / "checkpoint.pt", resume=True
        )


# ------------------------------------------------------------------------------ processes
def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=cwd)


@pytest.mark.parametrize("suffix", [".npy", ".tif"])
def test_torchrun_predict_shards_tiles_into_one_map(
    trained: SSCC, salinas_a: Scene, tmp_path: Path, suffix: str
) -> None:
    if suffix == ".tif":
        pytest.importorskip("rasterio")
    run = tmp_path / "run"
    run.mkdir()
    trained.trainer_.save_checkpoint(run / "checkpoint.pt")
    np.save(tmp_path / "scene.npy", salinas_a.cube.astype(np.float32))
    common = ["predict", "--run-dir", str(run), "--dataset", str(tmp_path / "scene.npy")]
    common += ["--device", "cpu", "--tile-size", "16"]
    assert main([*common, "--out", str(tmp_path / f"one{suffix}")]) == 0
    result = _torchrun("-m", "explore", *common, "--out", f"two{suffix}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("assignments of") == 1  # rank 0 prints
    if suffix == ".npy":
        one, two = np.load(tmp_path / "one.npy"), np.load(tmp_path / "two.npy")
    else:
        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(tmp_path / "one.tif") as a, rasterio.open(tmp_path / "two.tif") as b:
                one, two = a.read(1), b.read(1)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(one, trained.predict(salinas_a))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
