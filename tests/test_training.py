"""The training engine: callbacks, history, checkpoints that resume exactly, stop requests,
NaN handling, refusal of foreign checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import CheckpointError, DataError, FileFormatError, TrainingDivergedError
from explore.methods.sscc import SSCC
from explore.training import RunHistory
from explore.training.checkpoint import load_checkpoint

TINY = {
    "patch_size": 5,
    "batch_size": 64,
    "n_components": 4,
    "epochs": 4,
    "device": "cpu",
    "backbone": "light",
}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    """A 24 x 24 window of Salinas-A (real data, several classes)."""
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


@pytest.mark.datasets("salinas_a")
def test_callbacks_get_every_epoch_with_full_maps_losses_and_metrics(small_scene: Scene) -> None:
    records = []
    model = SSCC(n_clusters=3, **TINY).fit(small_scene, callbacks=[records.append])
    assert [r.epoch for r in records] == [1, 2, 3, 4]
    for record in records:
        assert record.assignments.shape == (24, 24)
        assert record.assignments.dtype == np.uint8
        assert sum(record.cluster_sizes) == 24 * 24
        assert set(record.losses) == {"instance", "on_diagonal", "off_diagonal", "loss"}
        assert record.losses["loss"] == pytest.approx(
            record.losses["instance"]
            + record.losses["on_diagonal"]
            + record.losses["off_diagonal"],
            rel=1e-5,
        )
        assert set(record.metrics) == {"acc", "nmi", "ari", "kappa"}
    assert np.array_equal(model.labels_, records[-1].assignments)
    assert len(model.history_) == 4


@pytest.mark.datasets("salinas_a")
def test_history_round_trips_through_a_file(small_scene: Scene, tmp_path: Path) -> None:
    model = SSCC(n_clusters=3, **{**TINY, "epochs": 2}).fit(small_scene)
    path = model.history_.save(tmp_path / "history.npz")
    loaded = RunHistory.load(path)
    assert len(loaded) == 2
    assert loaded.metadata["dataset"] == small_scene.name
    for original, copy in zip(model.history_, loaded, strict=True):
        assert np.array_equal(original.assignments, copy.assignments)
        assert original.losses == pytest.approx(copy.losses)
        assert original.metrics == pytest.approx(copy.metrics)
    assert loaded.curve("loss") == pytest.approx(model.history_.curve("loss"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError):
        RunHistory.load(tmp_path / "junk.npz")


@pytest.mark.datasets("salinas_a")
def test_resume_continues_exactly(small_scene: Scene, tmp_path: Path) -> None:
    straight = SSCC(n_clusters=3, seed=3, **TINY).fit(small_scene)

    checkpoint = tmp_path / "checkpoint.pt"
    SSCC(n_clusters=3, seed=3, **{**TINY, "epochs": 2}).fit(small_scene, checkpoint_path=checkpoint)
    assert load_checkpoint(checkpoint)["epoch"] == 2
    resumed = SSCC(n_clusters=3, seed=3, **TINY).fit(
        small_scene, checkpoint_path=checkpoint, resume=True
    )
    assert [r.epoch for r in resumed.history_] == [1, 2, 3, 4]
    for a, b in zip(straight.history_, resumed.history_, strict=True):
        assert a.losses == pytest.approx(b.losses, rel=1e-6, abs=1e-9)
        assert np.array_equal(a.assignments, b.assignments)
    for (name, a), (_, b) in zip(
        straight.model_.state_dict().items(), resumed.model_.state_dict().items(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name


@pytest.mark.datasets("salinas_a")
def test_checkpoint_of_another_method_or_k_is_refused(small_scene: Scene, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    SSCC(n_clusters=3, **{**TINY, "epochs": 1}).fit(small_scene, checkpoint_path=checkpoint)
    with pytest.raises(CheckpointError, match="n_clusters"):
        SSCC(n_clusters=4, **TINY).fit(small_scene, checkpoint_path=checkpoint, resume=True)
    state = torch.load(checkpoint, weights_only=True)
    state["method"] = "sacc"
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="sacc"):
        SSCC(n_clusters=3, **TINY).fit(
            small_scene, checkpoint_path=tmp_path / "other.pt", resume=True
        )


def test_hostile_or_corrupt_checkpoints_are_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    torch.save({"format": "explore-checkpoint-v1", "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "cut.pt").write_bytes((tmp_path / "evil.pt").read_bytes()[:50])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "cut.pt")


@pytest.mark.datasets("salinas_a")
def test_stop_request_ends_after_the_current_batch(small_scene: Scene) -> None:
    model = SSCC(n_clusters=3, **{**TINY, "epochs": 50})
    trainer = model.make_trainer(small_scene)
    calls = {"n": 0}
    original = model.training_loss

    def counting_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            threading.Thread(target=trainer.request_stop).start()
        return original(*args, **kwargs)

    model.training_loss = counting_loss
    trainer.fit()
    assert trainer.stop_requested
    assert trainer.epoch == 0
    assert calls["n"] <= 4


@pytest.mark.datasets("salinas_a")
def test_nan_loss_stops_with_epoch_and_batch_and_keeps_last_checkpoint(
    small_scene: Scene, tmp_path: Path
) -> None:
    model = SSCC(n_clusters=3, **TINY)
    checkpoint = tmp_path / "checkpoint.pt"
    trainer = model.make_trainer(small_scene, checkpoint_path=checkpoint)
    batches_per_epoch = (24 * 24) // 64
    original = model.training_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        parts = original(*args, **kwargs)
        if calls["n"] == batches_per_epoch + 2:  # epoch 2, batch 2
            parts["loss"] = parts["loss"] * float("nan")
        return parts

    model.training_loss = poisoned
    with pytest.raises(TrainingDivergedError, match="epoch 2, batch 2"):
        trainer.fit()
    assert load_checkpoint(checkpoint)["epoch"] == 1


@pytest.mark.datasets("salinas_a")
def test_predict_on_an_unseen_scene_and_band_mismatch(small_scene: Scene) -> None:
    scene = load_scene("salinas_a", download=False)
    model = SSCC(n_clusters=3, **{**TINY, "epochs": 1}).fit(small_scene)
    unseen = scene.crop(slice(50, 83), slice(0, 40))
    labels = model.predict(unseen)
    assert labels.shape == (33, 40)
    assert labels.max() < 3
    probabilities = model.predict_proba(unseen)
    assert probabilities.shape == (33 * 40, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(probabilities.argmax(axis=1).reshape(33, 40), labels)
    assert model.transform(unseen).shape == (33 * 40, 64)
    with pytest.raises(DataError, match="bands"):
        model.predict(unseen.select_bands(band_range=(0, 100)))


@pytest.mark.datasets("salinas_a")
def test_invalid_settings_are_refused(small_scene: Scene) -> None:
    with pytest.raises(DataError, match="n_clusters"):
        SSCC(n_clusters=1, **TINY).fit(small_scene)
    with pytest.raises(DataError, match="larger than the number"):
        SSCC(n_clusters=10_000, **TINY).fit(small_scene)
    with pytest.raises(DataError, match="config"):
        SSCC(n_clusters=3, config="turbo").fit(small_scene)
    with pytest.raises(DataError, match="loss"):
        SSCC(n_clusters=3, loss="magic", **TINY).fit(small_scene)
    with pytest.raises(DataError, match="device"):
        SSCC(n_clusters=3, **{**TINY, "device": "tpu:7"}).fit(small_scene)


def test_image_source_trains_on_chosen_items_and_serves_labels() -> None:
    """`train_items` restricts the items that train (a shuffled epoch and random draws alike);
    `batch_labels` gives a batch's labels for supervised losses (fine-tuning)."""
    from explore.data.images import ImageSet
    from explore.training.sources import ImageSource

    labels = np.array([0, 1, 2, 0, 1, -1])
    images = ImageSet(np.zeros((6, 1, 4, 4), np.float32), labels=labels, name="tiny")
    source = ImageSource(images, train_items=np.array([1, 3, 4]))
    assert source.n_train == 3 and source.train_indices().tolist() == [1, 3, 4]
    drawn = source.sample_train(50, torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {1, 3, 4}
    assert source.batch_labels(torch.tensor([5, 1])).tolist() == [-1, 1]
    assert ImageSource(images).n_train == 6
    with pytest.raises(DataError, match="train_items"):
        ImageSource(images, train_items=np.array([6]))
    with pytest.raises(DataError, match="no labels"):
        ImageSource(ImageSet(images.images, name="bare")).batch_labels(torch.tensor([0]))
