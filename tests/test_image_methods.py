"""CC, SACC and S3OCNet on a real image set (scikit-learn's 8 x 8 digits): each one's loss
falls over a few optimiser steps, and short runs beat k-means on raw pixels.

Scores are NMI of the last epoch's assignment against the digit classes (no epoch is chosen by
the labels). The k-means reference is the benchmark's: raw pixels, PCA 30, K = 10, seed 0
(NMI 0.740). The runs use the "fast" config with batch 128 (14 steps per epoch on 1,797
images), 50 epochs, one thread (`one_thread`: scores depend on the thread count), and the claim
is on the mean over seeds 0-2: one seed's last epoch moves by +-0.02 from epoch to epoch.
Measured that way with CC's views (NMI per seed): CC 0.775 / 0.800 / 0.775, SACC 0.847 / 0.844 /
0.802, S3OCNet 0.811 / 0.761 / 0.749; after 20 epochs CC was below k-means on two seeds of
three. The fast config now views one-channel images as glyphs (no flip, crops of at least half
the image); at 60 epochs of batch 128 that gave CC 0.891 / 0.943 / 0.867, SACC 0.928 / 0.889 /
0.857, S3OCNet 0.833 / 0.892 / 0.841.
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
EPOCHS = 50
SEEDS = (0, 1, 2)


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
def test_short_runs_beat_kmeans_nmi_on_digits(method: str, digits: ImageSet, one_thread) -> None:
    baseline = KMeansClustering(n_clusters=10, seed=0).fit(digits)
    baseline_nmi = evaluate(digits.labels, baseline.labels_).nmi
    nmis = []
    for seed in SEEDS:
        model = get_method_class(method)(
            n_clusters=10, epochs=EPOCHS, batch_size=128, device="cpu", seed=seed
        ).fit(digits)
        nmis.append(evaluate(digits.labels, model.labels_).nmi)
    assert sum(nmis) / len(nmis) > baseline_nmi, (method, nmis, baseline_nmi)
