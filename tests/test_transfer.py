"""Transfer clustering: extractors (DINOv2 through transformers, an explore run's backbone,
pixels), their input checks, fine-tuning on a labelled source, and the whole pipeline on digits.

The DINOv2 tests build a tiny model (hidden 64, 2 layers) and save it themselves: no download.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from explore.data.images import ImageSet
from explore.errors import DataError, IncompatibleImagesError, ModelNotFoundError
from explore.transfer.extractors import (
    DinoV2Extractor,
    PixelExtractor,
    RunExtractor,
    resolve_extractor,
)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def mnist_small() -> ImageSet:
    from explore.data.registry import load_images

    return load_images("mnist_test").per_class(40, seed=0)


@pytest.fixture(scope="module")
def digits() -> ImageSet:
    from explore.data.registry import load_images

    return load_images("digits")


@pytest.fixture(scope="module")
def cc_run(tmp_path_factory: pytest.TempPathFactory, mnist_small: ImageSet) -> Path:
    """A folder as `explore train` leaves it: a CC trained one epoch on 28 x 28 MNIST digits."""
    from explore.methods.cc import CC

    run = tmp_path_factory.mktemp("cc_run")
    model = CC(n_clusters=10, epochs=1, batch_size=128, device="cpu", seed=0)
    model.fit(mnist_small, checkpoint_path=run / "checkpoint.pt")
    return run


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A randomly initialised DINOv2 (hidden 64, 2 layers, patch 14) saved with save_pretrained."""
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=28,
        patch_size=14,
    )
    torch.manual_seed(0)
    model = Dinov2Model(config).eval()
    folder = tmp_path_factory.mktemp("dinov2_tiny")
    model.save_pretrained(folder)
    return folder, model


def random_images(n: int, channels: int, size: int, seed: int = 0) -> ImageSet:
    images = np.random.default_rng(seed).random((n, channels, size, size), dtype=np.float32)
    return ImageSet(images, name="random")


# ---------------------------------------------------------------------------- DINOv2
def test_dinov2_round_trips_a_local_checkpoint(tiny_dinov2) -> None:
    folder, original = tiny_dinov2
    images = random_images(4, 3, 28)
    extractor = resolve_extractor(f"dinov2:{folder}", device="cpu")
    assert isinstance(extractor, DinoV2Extractor)
    extractor.image_size = 28  # the tiny model's size; the default resizes to 224
    loaded = extractor.features(images)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        reference = original(pixel_values=(images.to_tensor() - mean) / std).pooler_output
    assert loaded.shape == (4, 64)
    np.testing.assert_array_equal(loaded, reference.numpy())
    assert extractor.adaptations_ == []


def test_dinov2_adapts_gray_and_odd_sizes_and_says_so(tiny_dinov2) -> None:
    folder, _ = tiny_dinov2
    extractor = DinoV2Extractor(folder, image_size=None, pooling="cls+mean", device="cpu")
    features = extractor.features(random_images(3, 1, 30))
    assert features.shape == (3, 128)
    notes = " ".join(extractor.adaptations_)
    assert "repeat the gray channel" in notes and "30 x 30 -> 28 x 28" in notes


def test_dinov2_refuses_what_it_cannot_take_naming_the_fix(tiny_dinov2) -> None:
    folder, _ = tiny_dinov2
    strict = DinoV2Extractor(folder, image_size=None, resize=False, channels="strict", device="cpu")
    with pytest.raises(IncompatibleImagesError, match=r"channels='repeat'"):
        strict.features(random_images(2, 1, 28))
    with pytest.raises(
        IncompatibleImagesError, match=r"multiples of its patch size 14.*resize=True"
    ):
        strict.features(random_images(2, 3, 30))


def test_missing_dinov2_fails_fast_naming_the_fix(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match=r"download=True.*save_pretrained"):
        DinoV2Extractor("facebook/dinov2-small", device="cpu")
    assert time.perf_counter() - started < 5
    with pytest.raises(ModelNotFoundError, match="no DINOv2 folder"):
        DinoV2Extractor(tmp_path / "absent", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="config.json"):
        DinoV2Extractor(tmp_path / "empty", device="cpu")


# ---------------------------------------------------------------------------- run backbones
@pytest.mark.datasets("mnist_test")
def test_run_extractor_gives_the_methods_embedding(cc_run: Path, mnist_small: ImageSet) -> None:
    from explore.methods.cc import CC

    extractor = RunExtractor(cc_run, device="cpu")
    method = CC.from_checkpoint(cc_run / "checkpoint.pt", device="cpu")
    np.testing.assert_allclose(
        extractor.features(mnist_small), method.transform(mnist_small), rtol=1e-5, atol=1e-5
    )
    assert extractor.out_features == 256


@pytest.mark.datasets("mnist_test")
def test_run_extractor_refuses_other_sizes_and_channels_naming_the_fix(
    cc_run: Path, digits: ImageSet
) -> None:
    extractor = RunExtractor(cc_run, device="cpu")
    with pytest.raises(IncompatibleImagesError, match=r"1 x 28 x 28.*8 x 8.*resize=True"):
        extractor.features(digits)
    with pytest.raises(IncompatibleImagesError, match=r"channels='gray'.*to_grayscale"):
        extractor.features(random_images(2, 3, 28))
    fixed = RunExtractor(cc_run, resize=True, channels="gray", device="cpu")
    features = fixed.features(digits.subset(np.arange(20)).to_rgb())
    assert features.shape == (20, 256)
    notes = " ".join(fixed.adaptations_)
    assert "convert RGB to gray" in notes and "8 x 8 -> 28 x 28" in notes


def test_missing_run_and_unknown_specs_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no checkpoint.pt"):
        resolve_extractor(f"run:{tmp_path}")
    with pytest.raises(DataError, match="unknown extractor"):
        resolve_extractor("resnet50")
    with pytest.raises(DataError, match="pixels:N"):
        resolve_extractor("pixels:many")
    assert resolve_extractor("pixels:0").n_components is None


@pytest.mark.datasets("mnist_test")
def test_adapt_batchnorm_takes_the_targets_statistics(
    cc_run: Path, digits: ImageSet, tiny_dinov2
) -> None:
    from explore.transfer.extractors import adapt_batchnorm

    extractor = RunExtractor(cc_run, resize=True, device="cpu")
    sample = digits.subset(np.arange(200))
    before = extractor.features(sample)
    assert adapt_batchnorm(extractor, sample) > 0
    # The backbone's first layer is a BatchNorm of the input pixels: its mean is now the target's.
    first = next(m for m in extractor.module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    expected = sample.resize(28, 28).images.mean()
    np.testing.assert_allclose(first.running_mean.numpy(), [expected], rtol=1e-4)
    assert not np.allclose(extractor.features(sample), before)
    assert adapt_batchnorm(DinoV2Extractor(tiny_dinov2[0], device="cpu"), sample) == 0


# ---------------------------------------------------------------------------- fine-tuning
@pytest.mark.datasets("mnist_test")
def test_finetuning_raises_heldout_source_accuracy(cc_run: Path, mnist_small: ImageSet) -> None:
    """A linear probe on held-out source images (never trained on) scores higher after
    fine-tuning: the features became more class-separable; the head is dropped after."""
    from explore.transfer.finetune import finetune

    extractor = RunExtractor(cc_run, device="cpu")
    report = finetune(
        extractor, mnist_small, epochs=2, batch_size=32, lr=1e-3, backbone_lr=1e-3, seed=0
    )
    assert report.n_heldout == 80 and report.n_train == 320
    assert report.probe_accuracy_after > report.probe_accuracy_before + 0.05
    assert report.train_accuracy[-1] > report.train_accuracy[0]
    assert extractor.features(mnist_small.subset(np.arange(5))).shape == (5, 256)


@pytest.mark.datasets("mnist_test")
def test_finetuning_leaves_the_given_extractor_unchanged(
    cc_run: Path, mnist_small: ImageSet
) -> None:
    from explore.methods.transfer import TransferClustering

    extractor = RunExtractor(cc_run, device="cpu")
    sample = mnist_small.subset(np.arange(0, 400, 4))
    before = extractor.features(sample)
    model = TransferClustering(extractor, finetune_epochs=1, umap=False, max_clusters=5)
    model.fit(sample, source=mnist_small)
    np.testing.assert_array_equal(extractor.features(sample), before)
    assert model.finetune_ is not None and model.finetune_.epochs == 1
    assert model.labels_.shape == (100,)


@pytest.mark.datasets("mnist_test")
def test_finetuning_runs_on_the_trainer_and_repeats_with_its_seed(
    cc_run: Path, mnist_small: ImageSet
) -> None:
    """Fine-tuning is a `Trainer` run: a callback passed through sees one epoch end per epoch,
    records holding the report's losses and accuracies and no map (no clusters to assign); the
    same seed gives the same losses and the same fine-tuned features twice."""
    from explore.training.callbacks import Callback
    from explore.training.trainer import Trainer
    from explore.transfer.finetune import finetune

    class Seen(Callback):
        def __init__(self) -> None:
            self.records: list = []
            self.trainers: list = []

        def on_epoch_end(self, trainer, record) -> None:
            self.trainers.append(trainer)
            self.records.append(record)

    source = mnist_small.subset(np.arange(0, 400, 2))
    sample = source.subset(np.arange(10))
    runs = []
    for _ in range(2):
        seen = Seen()
        extractor = RunExtractor(cc_run, device="cpu")
        report = finetune(
            extractor,
            source,
            epochs=2,
            batch_size=32,
            augmentation="cc_weak",
            seed=3,
            callbacks=[seen],
        )
        runs.append((report, extractor.features(sample)))
    assert [record.epoch for record in seen.records] == [1, 2]
    assert all(isinstance(trainer, Trainer) for trainer in seen.trainers)
    assert all(record.assignments is None for record in seen.records)
    assert report.epochs == 2 and len(seen.trainers[-1].history) == 2
    assert report.losses == tuple(record.losses["loss"] for record in seen.records)
    assert report.train_accuracy == tuple(record.losses["accuracy"] for record in seen.records)
    assert runs[0][0].losses == runs[1][0].losses
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


@pytest.mark.datasets("mnist_test")
def test_finetuning_resumes_exactly_from_its_checkpoint(
    cc_run: Path, mnist_small: ImageSet, tmp_path: Path
) -> None:
    """One epoch with a checkpoint, then a resumed run of two: the losses and the fine-tuned
    features of an uninterrupted two-epoch run."""
    from explore.transfer.finetune import finetune

    source = mnist_small.subset(np.arange(0, 400, 2))
    sample = source.subset(np.arange(10))
    settings = {"batch_size": 32, "seed": 1}
    whole_extractor = RunExtractor(cc_run, device="cpu")
    whole = finetune(whole_extractor, source, epochs=2, **settings)
    path = tmp_path / "finetune.pt"
    first = finetune(
        RunExtractor(cc_run, device="cpu"), source, epochs=1, checkpoint_path=path, **settings
    )
    assert first.epochs == 1 and path.is_file()
    extractor = RunExtractor(cc_run, device="cpu")
    resumed = finetune(extractor, source, epochs=2, checkpoint_path=path, resume=True, **settings)
    assert resumed.epochs == 2
    assert resumed.losses == whole.losses
    assert resumed.train_accuracy == whole.train_accuracy
    np.testing.assert_array_equal(extractor.features(sample), whole_extractor.features(sample))


@pytest.mark.datasets("mnist_test")
def test_finetuning_needs_weights_and_a_source(mnist_small: ImageSet) -> None:
    from explore.methods.transfer import TransferClustering
    from explore.transfer.finetune import finetune

    with pytest.raises(DataError, match="no weights to fine-tune"):
        finetune(PixelExtractor(), mnist_small)
    with pytest.raises(DataError, match="needs a labelled source"):
        TransferClustering("pixels", finetune_epochs=2).fit(mnist_small)


# ---------------------------------------------------------------------------- the pipeline
def test_pipeline_beats_kmeans_nmi_on_digits_without_being_told_k(digits: ImageSet) -> None:
    from explore.methods.kmeans import KMeansClustering
    from explore.methods.transfer import TransferClustering
    from explore.metrics import evaluate

    flat = digits.images.reshape(digits.n_images, -1)
    kmeans = KMeansClustering(n_clusters=10, seed=0).fit(flat)
    baseline = evaluate(digits.labels, kmeans.labels_)
    model = TransferClustering("pixels", max_clusters=20, seed=0).fit(digits)
    scores = evaluate(digits.labels, model.labels_)
    assert scores.nmi > baseline.nmi + 0.05
    assert 6 <= model.n_clusters_ <= 15
    assert model.embedding_.shape == (digits.n_images, 2)
    assert set(model.timings_) == {"finetune", "features", "cluster"}
