"""S3OCNet: single and multilayer heads, anti-collapse choices, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import CheckpointError, DataError
from explore.methods.s3ocnet import S3OCNet

TINY = {"epochs": 2, "batch_size": 64, "device": "cpu", "patch_size": 7, "n_components": 4}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"layers": ((64, 9),)},
        {"layers": ((64, 9),), "arrangement": "parallel"},
        {"anti_collapse": "sinkhorn"},
        {"similarity": "neg_sq_distance"},
    ],
)
@pytest.mark.datasets("salinas_a")
def test_variants_train_and_assign_every_pixel(options, small_scene: Scene) -> None:
    records = []
    model = S3OCNet(n_clusters=3, **TINY, **options).fit(small_scene, callbacks=[records.append])
    assert model.labels_.shape == (24, 24)
    assert model.labels_.max() < 3
    assert {"self_label", "balance", "loss"} <= set(records[-1].losses)
    n_layers = len(options.get("layers", ())) + 1
    assert {f"layer{i}_loss" for i in range(n_layers)} <= set(records[-1].losses)


@pytest.mark.datasets("salinas_a")
def test_sinkhorn_targets_keep_every_cluster_in_use(small_scene: Scene) -> None:
    model = S3OCNet(n_clusters=3, anti_collapse="sinkhorn", **TINY).fit(small_scene)
    assert len(np.unique(model.labels_)) == 3


@pytest.mark.datasets("salinas_a")
def test_bad_options_are_named(small_scene: Scene) -> None:
    with pytest.raises(DataError, match="similarity"):
        S3OCNet(n_clusters=3, similarity="dot", **TINY).fit(small_scene)
    with pytest.raises(DataError, match="anti_collapse|anti-collapse"):
        S3OCNet(n_clusters=3, anti_collapse="magic", **TINY).fit(small_scene)


@pytest.mark.datasets("salinas_a")
def test_checkpoint_restores_multilayer_heads(small_scene: Scene, tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    model = S3OCNet(n_clusters=3, layers=((32, 6),), **TINY).fit(small_scene, checkpoint_path=path)
    restored = S3OCNet.from_checkpoint(path, device="cpu")
    assert np.array_equal(restored.predict(small_scene), model.predict(small_scene))
    with pytest.raises(CheckpointError, match="heads"):
        S3OCNet(n_clusters=3, layers=((32, 5),), **TINY).fit(
            small_scene, checkpoint_path=path, resume=True
        )
