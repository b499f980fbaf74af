"""CC, SACC and S3OCNet on a real image set (scikit-learn's 8 x 8 digits): each one's loss
falls over a few optimiser steps, and a short run beats k-means on raw pixels.

Scores are NMI of the last epoch's assignment against the digit classes (no epoch is chosen by
the labels). The k-means reference is the benchmark's: raw pixels, PCA 30, K = 10, seed 0
(NMI 0.742). The runs' settings are the "fast" config with batch 128 (14 steps per epoch on
1,797 images) and the method defaults; benchmarks/image_clustering.py measures more seeds.
"""

from __future__ import annotations

import pytest
import torch

from explore.data.images import ImageSet
from explore.data.registry import load_images
from explore.methods import get_method_class
from explore.methods.kmeans import KMeansClustering
from explore.metrics import evaluate

METHODS = ("cc", "sacc", "s3ocnet")
# Epochs of the short runs: about where each method passes k-means on seed 0 with a margin
# (measured: CC NMI 0.80 after 20, SACC 0.76-0.77 after 16-20, S3OCNet 0.76 after 25-40).
# s3ocnet, seeds 0-2: NMI 0.717 / 0.732 / 0.734 at epoch 30 of 40-50, 0.769 / 0.766 / 0.807 after 50
EPOCHS = {"cc": 20, "sacc": 25, "s3ocnet": 50}


@pytest.fixture(scope="module")
def digits() -> ImageSet:
    return load_images("digits", download=False)


@pytest.mark.parametrize("method", METHODS)
def test_loss_decreases_over_a_few_steps(method: str, digits: ImageSet) -> None:
    model = get_method_class(method)(n_clusters=10, batch_size=128, device="cpu", seed=0)
    trainer = model.make_trainer(digits)
    batch = trainer.source.batch(torch.arange(128))
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(12):
        generator.manual_seed(0)  # the same views at every step: only the model changes
        loss = model.training_loss(trainer.model, batch, generator)["loss"]
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_a_short_run_beats_kmeans_nmi_on_digits(method: str, digits: ImageSet) -> None:
    baseline = KMeansClustering(n_clusters=10, seed=0).fit(digits)
    baseline_nmi = evaluate(digits.labels, baseline.labels_).nmi
    model = get_method_class(method)(
        n_clusters=10, epochs=EPOCHS[method], batch_size=128, device="cpu", seed=0
    ).fit(digits)
    scores = evaluate(digits.labels, model.labels_)
    assert scores.nmi > baseline_nmi, (method, scores, baseline_nmi)
