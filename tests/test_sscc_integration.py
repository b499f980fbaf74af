"""Integration: SSCC's fast config on the real Salinas-A scene beats k-means.

A regression guard for the whole training path (preprocessing, patches, augmentation pool,
twin network, cross-correlation loss, schedule, the per-epoch dense assignment), with one
thread (seeded results change with the thread count; `one_thread`). Results vary a lot from
seed to seed (benchmarks/hsi_clustering.py reports mean ± std over seeds; the README has the
table), so the claim is about the mean over seeds 0, 1 and 2, as the README reports it: with the
dense_light7 default and one thread, 15 epochs gave ACC 0.685 / 0.896 / 0.905 and NMI 0.705 /
0.821 / 0.832 against k-means' 0.770 / 0.769; seed 0 alone is below k-means, as seed 1 was with
the former light default. Scored on labelled pixels only, with the last epoch's map (no epoch
chosen by labels).
"""

from __future__ import annotations

import numpy as np
import pytest

from explore.data.registry import load_scene
from explore.methods.kmeans import KMeansClustering
from explore.methods.sscc import SSCC
from explore.metrics import score_scene

pytestmark = pytest.mark.datasets("salinas_a")


def test_a_few_epochs_of_sscc_beat_kmeans_on_salinas_a_over_three_seeds(one_thread) -> None:
    scene = load_scene("salinas_a", download=False)
    baseline = score_scene(scene.labels, KMeansClustering(n_clusters=6, seed=0).fit(scene).labels_)
    runs = []
    for seed in (0, 1, 2):
        model = SSCC(n_clusters=6, config="fast", epochs=15, device="cpu", seed=seed).fit(scene)
        runs.append(score_scene(scene.labels, model.labels_))
        assert len(np.unique(model.labels_)) >= 5, seed  # no collapse
    assert np.mean([s.nmi for s in runs]) > baseline.nmi, (runs, baseline)
    assert np.mean([s.acc for s in runs]) > baseline.acc, (runs, baseline)
