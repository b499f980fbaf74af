"""CC and SACC: loss parts over the right pairs of views, training on scenes and image sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.cc import CC
from explore.methods.sacc import SACC

TINY = {"epochs": 2, "batch_size": 64, "device": "cpu", "patch_size": 7, "n_components": 4}


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


@pytest.mark.datasets("salinas_a")
@pytest.mark.parametrize("method", [CC, SACC])
def test_methods_train_on_scene_patches(method, small_scene: Scene) -> None:
    records = []
    model = method(n_clusters=3, **TINY).fit(small_scene, callbacks=[records.append])
    assert model.labels_.shape == (24, 24)
    assert set(records[0].losses) == {"instance", "cluster", "balance", "loss"}
    assert model.transform(small_scene).shape == (24 * 24, model.model_.backbone.out_features)


@pytest.mark.datasets("salinas_a")
def test_sacc_sums_the_reference_pairs(small_scene: Scene, monkeypatch) -> None:
    """With sigma = 2 the cluster terms of the three pairs are doubled, instance terms are not."""
    model = SACC(n_clusters=3, sigma=2.0, **TINY)
    trainer = model.make_trainer(small_scene)
    calls = {"instance": [], "cluster": []}
    import explore.methods.cc as cc_module

    real_instance = cc_module.instance_contrastive_loss
    real_cluster = cc_module.cluster_contrastive_loss_parts

    def spy_instance(a, b, t):
        calls["instance"].append((a.data_ptr(), b.data_ptr()))
        return real_instance(a, b, t)

    def spy_cluster(a, b, t):
        calls["cluster"].append((a.data_ptr(), b.data_ptr()))
        return real_cluster(a, b, t)

    monkeypatch.setattr(cc_module, "instance_contrastive_loss", spy_instance)
    monkeypatch.setattr(cc_module, "cluster_contrastive_loss_parts", spy_cluster)
    batch = trainer.source.batch(torch.arange(64))
    parts = model.training_loss(trainer.model, batch, trainer.augment_generator)
    assert len(calls["instance"]) == 2 and len(calls["cluster"]) == 3
    total = parts["instance"] + parts["cluster"] + parts["balance"]
    assert torch.allclose(parts["loss"], total)


@pytest.mark.datasets("salinas_a")
def test_sacc_rejects_bad_pairs(small_scene: Scene) -> None:
    with pytest.raises(DataError, match="pair"):
        SACC(n_clusters=3, cluster_pairs=(("w1", "x"),), **TINY).fit(small_scene)
    with pytest.raises(DataError, match="sigma"):
        SACC(n_clusters=3, sigma=-1.0, **TINY).fit(small_scene)


@pytest.mark.datasets("salinas_a")
def test_cc_loss_decreases_over_a_few_steps(small_scene: Scene) -> None:
    model = CC(n_clusters=3, **TINY)
    trainer = model.make_trainer(small_scene)
    batch = trainer.source.batch(torch.arange(128))
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(15):
        generator.manual_seed(0)  # the same views each step: only the model changes
        loss = model.training_loss(trainer.model, batch, generator)["loss"]
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first


@pytest.mark.datasets("salinas_a")
def test_checkpoint_round_trip_keeps_sacc_settings(small_scene: Scene, tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    model = SACC(n_clusters=3, sigma=0.5, **TINY).fit(small_scene, checkpoint_path=path)
    restored = SACC.from_checkpoint(path, device="cpu")
    assert restored.sigma == 0.5
    assert np.array_equal(restored.predict(small_scene), model.predict(small_scene))


@pytest.mark.parametrize("method", [CC, SACC])
@pytest.mark.parametrize(
    "dataset",
    ["digits", pytest.param("cifar10_subset", marks=pytest.mark.datasets("cifar10_subset"))],
)
def test_grayscale_and_rgb_image_sets(method, dataset: str) -> None:
    from explore.data.registry import load_images

    images = load_images(dataset, download=False)
    images = images.subset(np.arange(0, images.n_images, max(1, images.n_images // 200)))
    records = []
    model = method(n_clusters=10, epochs=1, batch_size=64, device="cpu").fit(
        images, callbacks=[records.append]
    )
    assert model.labels_.shape == (images.n_images,)
    assert records[0].assignments.shape == (images.n_images,)
    assert set(records[0].metrics) == {"acc", "nmi", "ari", "kappa"}
    with pytest.raises(DataError, match="resize"):
        model.predict(images.resize(16, 16))


@pytest.mark.datasets("cifar10_subset")
def test_fast_config_views_single_channel_glyphs_as_glyphs() -> None:
    """One-channel images on a plain background take the glyph pools (no mirror, half-area
    crops, slants) in the fast config; grey photographs, colour images, the paper config and
    pools named by the user keep theirs."""
    from explore.data.registry import load_images
    from explore.methods.s3ocnet import S3OCNet

    digits = load_images("digits", download=False).subset(np.arange(64))
    colour = digits.to_rgb()
    photographs = load_images("cifar10_subset", download=False).subset(np.arange(64))

    def pools(model, images) -> tuple[str, str | None]:
        model.make_trainer(images)
        strong = getattr(model, "_strong", None)
        return model._weak.name, strong.name if strong is not None else None

    assert pools(SACC(epochs=1), digits) == ("glyph_weak", "glyph_strong")
    assert pools(CC(epochs=1), digits) == ("glyph_weak", None)
    assert pools(S3OCNet(epochs=1), digits)[0] == "glyph_weak"
    assert pools(SACC(epochs=1), colour) == ("cc_weak", "sacc_strong")
    assert pools(SACC(epochs=1), photographs.to_grayscale()) == ("cc_weak", "sacc_strong")
    assert pools(CC(epochs=1), photographs.to_grayscale()) == ("cc_weak", None)
    assert pools(SACC(config="paper", epochs=1), digits) == ("cc_weak", "sacc_strong")
    chosen = SACC(epochs=1, weak_augmentation="cc_weak", strong_augmentation="sacc_strong")
    assert pools(chosen, digits) == ("cc_weak", "sacc_strong")


def test_a_resumed_run_keeps_the_views_it_started_with(tmp_path, one_thread, monkeypatch) -> None:
    """The pools a run draws its views from travel in its checkpoint: after a default pool
    changes (as the glyph views did), a resumed run goes on with the views it started with, so
    it still ends where the uninterrupted run ends. A pool named at resume is the user's
    choice and wins."""
    import explore.augment.presets as presets
    from explore.data.registry import load_images
    from explore.training.checkpoint import load_checkpoint

    digits = load_images("digits", download=False).subset(np.arange(256))
    settings = {"epochs": 3, "batch_size": 64, "device": "cpu", "seed": 2}
    straight = SACC(n_clusters=10, **settings).fit(digits)
    checkpoint = tmp_path / "checkpoint.pt"
    SACC(n_clusters=10, **{**settings, "epochs": 2}).fit(digits, checkpoint_path=checkpoint)
    saved = load_checkpoint(checkpoint)["extra"]["pools"]
    assert {name: spec["name"] for name, spec in saved.items()} == {
        "_weak": "glyph_weak",
        "_strong": "glyph_strong",
    }

    original = presets.PRESETS["glyph_weak"]
    monkeypatch.setitem(  # the default pool changes between the two runs
        presets.PRESETS, "glyph_weak", lambda **options: original(**options, rotation=0, shear=0)
    )
    resumed = SACC(n_clusters=10, **settings).fit(digits, checkpoint_path=checkpoint, resume=True)
    assert resumed._weak.to_dict() == saved["_weak"]
    assert resumed.history_.records[-1].losses == pytest.approx(
        straight.history_.records[-1].losses, rel=1e-6
    )
    assert np.array_equal(resumed.labels_, straight.labels_)

    # without the saved pools (a checkpoint from before they were saved) the new default is used
    # the checkpoint now holds epoch 3: start again from a 2-epoch one
    SACC(n_clusters=10, **{**settings, "epochs": 2}).fit(digits, checkpoint_path=checkpoint)
    state = torch.load(checkpoint, weights_only=True)
    del state["extra"]["pools"]
    torch.save(state, checkpoint)
    drifted = SACC(n_clusters=10, **settings).fit(digits, checkpoint_path=checkpoint, resume=True)
    assert "rotate" not in str(drifted._weak.to_dict())
    assert drifted.history_.records[-1].losses != pytest.approx(
        straight.history_.records[-1].losses, rel=1e-6
    )

    # a pool named at resume wins over the saved one
    SACC(n_clusters=10, **{**settings, "epochs": 2}).fit(digits, checkpoint_path=checkpoint)
    named = SACC(n_clusters=10, weak_augmentation="cc_weak", **settings).fit(
        digits, checkpoint_path=checkpoint, resume=True
    )
    assert named._weak.name == "cc_weak"


def test_a_checkpoint_whose_pool_cannot_be_rebuilt_is_refused(tmp_path) -> None:
    from explore.data.registry import load_images
    from explore.errors import CheckpointError

    digits = load_images("digits", download=False).subset(np.arange(128))
    settings = {"epochs": 1, "batch_size": 64, "device": "cpu"}
    checkpoint = tmp_path / "checkpoint.pt"
    CC(n_clusters=10, **settings).fit(digits, checkpoint_path=checkpoint)
    state = torch.load(checkpoint, weights_only=True)
    state["extra"]["pools"]["_weak"] = {"name": "x", "root": {"op": "no_such_operation"}}
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointError, match="weak_augmentation"):
        CC(n_clusters=10, **{**settings, "epochs": 2}).fit(
            digits, checkpoint_path=checkpoint, resume=True
        )
