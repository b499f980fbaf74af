"""The per-epoch projection behind the moving embedding: the same items every epoch, one fitted
projection for all frames (comparable axes), deterministic, bounded, kept across a resume, and
invisible to training (same losses and labels as a run without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.methods.sscc import SSCC
from explore.training.checkpoint import load_checkpoint
from explore.training.projection import EmbeddingFrames, fit_projection

pytestmark = pytest.mark.datasets("salinas_a")
TINY = {"batch_size": 64, "device": "cpu", "progress": False, "samples_per_epoch": 256}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


def _fit(scene: Scene, frames: EmbeddingFrames | None, epochs: int = 3, **fit: object) -> list:
    records: list = []
    callbacks = [records.append] if frames is None else [frames, records.append]
    SSCC(n_clusters=3, epochs=epochs, seed=1, **TINY).fit(scene, callbacks=callbacks, **fit)
    return records


def test_fit_projection_is_a_deterministic_pca() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(300, 5)) * np.array([5.0, 2.0, 0.5, 0.1, 0.1])
    mean, components = fit_projection(data)
    again = fit_projection(data[::-1])  # order of the rows does not matter
    np.testing.assert_allclose(mean, again[0])
    np.testing.assert_allclose(components, again[1], atol=1e-10)
    assert np.allclose(np.abs(components[0]), [1, 0, 0, 0, 0], atol=0.05)  # largest variance
    assert np.allclose(components @ components.T, np.eye(2))
    assert all(row[np.argmax(np.abs(row))] > 0 for row in components)  # the sign is fixed


def test_frames_are_one_projection_of_the_same_bounded_sample(small_scene: Scene) -> None:
    frames = EmbeddingFrames(max_items=200, seed=3)
    records = _fit(small_scene, frames)
    assert sorted(frames.frames) == [r.epoch for r in records] == [1, 2, 3]
    assert len(frames.sample) == 200 and len(set(frames.sample.tolist())) == 200
    assert frames.sample.max() < small_scene.n_pixels  # flat pixel indices of the scene
    for frame in frames.frames.values():
        assert frame.shape == (200, 2) and frame.dtype == np.float32  # coordinates only
        assert np.isfinite(frame).all()
    first_basis = frames.components.copy()
    # The frames move: the model changed, the projection did not.
    assert not np.allclose(frames.frames[1], frames.frames[3])
    np.testing.assert_array_equal(frames.components, first_basis)
    # Epoch 1's frame is centred by the fitted mean (the fit was on it); later ones need not be.
    np.testing.assert_allclose(frames.frames[1].mean(axis=0), 0, atol=1e-3)
    # The same run again: the same sample and the same frames, bit for bit.
    again = EmbeddingFrames(max_items=200, seed=3)
    _fit(small_scene, again)
    np.testing.assert_array_equal(again.sample, frames.sample)
    for epoch, frame in frames.frames.items():
        np.testing.assert_array_equal(again.frames[epoch], frame)
    # A sample larger than the data is all of it.
    assert len(EmbeddingFrames(max_items=10_000).note) > 0


def test_the_projection_does_not_disturb_training(small_scene: Scene) -> None:
    with_frames = _fit(small_scene, EmbeddingFrames(max_items=200))
    without = _fit(small_scene, None)
    for a, b in zip(with_frames, without, strict=True):
        assert a.losses == b.losses
        np.testing.assert_array_equal(a.assignments, b.assignments)
        assert a.metrics == b.metrics


def test_a_resumed_run_projects_on_the_same_axes(small_scene: Scene, tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    whole = EmbeddingFrames(max_items=150)
    _fit(small_scene, whole, epochs=3)
    first = EmbeddingFrames(max_items=150)
    _fit(small_scene, first, epochs=2, checkpoint_path=path)
    assert "EmbeddingFrames" in load_checkpoint(path)["callbacks"]
    resumed = EmbeddingFrames(max_items=150)
    _fit(small_scene, resumed, epochs=3, checkpoint_path=path, resume=True)
    assert sorted(resumed.frames) == [3]
    np.testing.assert_array_equal(resumed.sample, whole.sample)
    np.testing.assert_array_equal(resumed.components, whole.components)
    np.testing.assert_array_equal(resumed.frames[3], whole.frames[3])
