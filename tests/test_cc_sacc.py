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


def test_fast_config_views_single_channel_images_as_glyphs() -> None:
    """One-channel images take the glyph pools (no mirror, half-area crops) in the fast config;
    colour images, the paper config and pools named by the user keep theirs."""
    from explore.data.registry import load_images
    from explore.methods.s3ocnet import S3OCNet

    digits = load_images("digits", download=False).subset(np.arange(64))
    colour = digits.to_rgb()

    def pools(model, images) -> tuple[str, str | None]:
        model.make_trainer(images)
        strong = getattr(model, "_strong", None)
        return model._weak.name, strong.name if strong is not None else None

    assert pools(SACC(epochs=1), digits) == ("glyph_weak", "glyph_strong")
    assert pools(CC(epochs=1), digits) == ("glyph_weak", None)
    assert pools(S3OCNet(epochs=1), digits)[0] == "glyph_weak"
    assert pools(SACC(epochs=1), colour) == ("cc_weak", "sacc_strong")
    assert pools(SACC(config="paper", epochs=1), digits) == ("cc_weak", "sacc_strong")
    chosen = SACC(epochs=1, weak_augmentation="cc_weak", strong_augmentation="sacc_strong")
    assert pools(chosen, digits) == ("cc_weak", "sacc_strong")
