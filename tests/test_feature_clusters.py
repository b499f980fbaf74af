"""Beyond the papers: spatial-neighbour views (`neighbour_radius`, shared by every deep method on
scenes) and clusters found by k-means in the learnt feature space (`assign="kmeans"`),
checkpointed with the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explore.data.images import ImageSet
from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.cc import CC
from explore.methods.s3ocnet import S3OCNet
from explore.methods.sacc import SACC
from explore.methods.sscc import SSCC
from explore.training.sources import SceneSource

pytestmark = pytest.mark.datasets("salinas_a")
TINY = {"epochs": 2, "batch_size": 64, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


def test_spatial_neighbours_stay_in_their_window(small_scene: Scene) -> None:
    source = SceneSource(small_scene, patch_size=7)
    height, width = small_scene.shape[:2]
    indices = torch.arange(height * width)
    generator = torch.Generator().manual_seed(0)
    drawn = source.spatial_neighbours(indices, 2, generator)
    rows, cols = indices // width, indices % width
    assert ((drawn // width - rows).abs() <= 2).all() and ((drawn % width - cols).abs() <= 2).all()
    assert (drawn >= 0).all() and (drawn < height * width).all()
    assert (drawn != indices).float().mean() > 0.8  # most draws move
    again = source.spatial_neighbours(indices, 2, torch.Generator().manual_seed(0))
    assert torch.equal(drawn, again)
    assert torch.equal(source.spatial_neighbours(indices, 0, generator), indices)
    with pytest.raises(DataError, match="radius"):
        source.spatial_neighbours(indices, -1, generator)


def test_neighbour_views_double_the_inputs(small_scene: Scene) -> None:
    model = SSCC(n_clusters=3, neighbour_radius=2, **TINY)
    trainer = model.make_trainer(small_scene)
    inputs = model.training_inputs(trainer.source, torch.arange(16), trainer.augment_generator)
    assert inputs.shape[0] == 32
    assert torch.equal(inputs[:16], trainer.source.batch(torch.arange(16)))
    parts = model.training_loss(trainer.model, inputs, trainer.augment_generator)
    assert torch.isfinite(parts["loss"])
    plain = SSCC(n_clusters=3, config="paper", **{**TINY, "batch_size": 16})
    paper_trainer = plain.make_trainer(small_scene)
    batch = plain.training_inputs(paper_trainer.source, torch.arange(8), torch.Generator())
    assert batch.shape[0] == 8  # the paper's views are of the pixel itself


@pytest.mark.parametrize("method", [CC, SACC, S3OCNet])
def test_every_method_takes_neighbour_views(method, small_scene: Scene, monkeypatch) -> None:
    """The contrastive family pairs a pixel's view with a view of its spatial neighbour: the
    second view is cut from the neighbours' half of the inputs, not from the pixel itself."""
    options = {"assign": "kmeans", "backbone": "dense_light7", "patch_size": 7, "n_components": 4}
    model = method(n_clusters=3, neighbour_radius=2, **options, **TINY)
    trainer = model.make_trainer(small_scene)
    inputs = model.training_inputs(trainer.source, torch.arange(16), trainer.augment_generator)
    assert inputs.shape[0] == 32
    seen = []
    pool = model._weak
    monkeypatch.setattr(model, "_weak", lambda batch, gen: seen.append(batch) or pool(batch, gen))
    parts = model.training_loss(trainer.model, inputs, trainer.augment_generator)
    assert torch.isfinite(parts["loss"])
    assert torch.equal(seen[0], inputs[:16]) and torch.equal(seen[1], inputs[16:])
    monkeypatch.undo()
    model.fit(small_scene)
    assert model.labels_.shape == small_scene.shape[:2] and model.feature_centres_ is not None


def test_neighbour_views_need_a_scene() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 1, 8, 8), dtype=np.float32)
    images = ImageSet(pixels, rng.integers(0, 2, 40), class_names=["a", "b"])
    with pytest.raises(DataError, match="neighbour_radius=2 needs a scene"):
        CC(n_clusters=2, neighbour_radius=2, **TINY).fit(images)


def test_feature_clusters_assign_every_pixel_and_survive_a_checkpoint(
    small_scene: Scene, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoint.pt"
    model = SSCC(n_clusters=3, seed=1, **TINY).fit(small_scene, checkpoint_path=path)
    assert model.clusters_features and model.feature_centres_.shape == (3, 64)
    labels = model.labels_
    assert labels.shape == small_scene.shape[:2] and set(np.unique(labels)) <= {0, 1, 2}
    # The map is the nearest centre of each pixel's L2-normalised features.
    features = torch.from_numpy(model.transform(small_scene))
    nearest = model.feature_labels(features).numpy().reshape(labels.shape)
    np.testing.assert_array_equal(nearest, labels)
    memberships = model.predict_proba(small_scene)
    np.testing.assert_allclose(memberships.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(memberships.argmax(axis=1).reshape(labels.shape), labels)
    # A reloaded run predicts the same map, here and on pixels it never saw.
    restored = SSCC.from_checkpoint(path, device="cpu")
    torch.testing.assert_close(restored.feature_centres_, model.feature_centres_)
    np.testing.assert_array_equal(restored.predict(small_scene), labels)
    unseen = load_scene("salinas_a", download=False).crop(slice(50, 70), slice(10, 40))
    np.testing.assert_array_equal(restored.predict(unseen), model.predict(unseen))


def test_checkpoints_from_before_feature_clusters_use_the_head(
    small_scene: Scene, tmp_path: Path
) -> None:
    path = tmp_path / "old.pt"
    SSCC(n_clusters=3, assign="head", **TINY).fit(small_scene, checkpoint_path=path)
    state = torch.load(path, weights_only=True)
    del state["extra"]["params"]["assign"]  # as written before the option existed
    torch.save(state, path)
    restored = SSCC.from_checkpoint(path, device="cpu")
    assert restored.assign == "head" and not restored.clusters_features
    assert restored.predict(small_scene).shape == small_scene.shape[:2]


def test_bad_options_are_named(small_scene: Scene) -> None:
    with pytest.raises(DataError, match="assign must be one of"):
        SSCC(n_clusters=3, assign="magic", **TINY).fit(small_scene)
    with pytest.raises(DataError, match="neighbour_radius must be an integer >= 0"):
        SSCC(n_clusters=3, neighbour_radius=-1, **TINY).fit(small_scene)
    with pytest.raises(DataError, match="not fitted yet"):
        SSCC(n_clusters=3).feature_labels(torch.ones(2, 4))
