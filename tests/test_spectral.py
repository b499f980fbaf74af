"""Spectral clustering anchor (`explore.methods.spectral`): a toy scene with known clusters,
the sampled path for large scenes, unseen pixels, estimator conventions and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.spectral import SpectralClustering
from explore.metrics import evaluate, score_scene


def toy_scene(seed: int = 0, size: int = 24) -> Scene:
    """Three materials in vertical stripes: distinct spectral shapes (30 bands), brightness
    varying by +-10% from pixel to pixel, 5% noise."""
    rng = np.random.default_rng(seed)
    wavelengths = np.linspace(0, 1, 30)
    shapes = np.stack([np.sin(3 * wavelengths) + 1.5, wavelengths**2 + 0.5, np.exp(-wavelengths)])
    truth = np.repeat(np.arange(3), size // 3)[None, :].repeat(size, axis=0)
    brightness = rng.uniform(0.9, 1.1, (size, size, 1))
    cube = shapes[truth] * brightness
    cube = cube * (1 + 0.05 * rng.normal(size=cube.shape))
    return Scene(cube.astype(np.float32), truth + 1, name="toy")


def test_finds_the_materials_of_a_toy_scene() -> None:
    scene = toy_scene()
    model = SpectralClustering(n_clusters=3, n_components=5).fit(scene)
    assert model.labels_.shape == scene.shape[:2]
    assert score_scene(scene.labels, model.labels_).acc == 1.0
    # Unseen pixels of the same sensor: another draw of the scene.
    other = toy_scene(seed=1)
    assert score_scene(other.labels, model.predict(other)).acc == 1.0


def test_the_sampled_graph_labels_every_pixel() -> None:
    scene = toy_scene(size=30)
    model = SpectralClustering(n_clusters=3, n_components=5, max_pixels=200, seed=3).fit(scene)
    assert model.labels_.shape == (30, 30)
    assert score_scene(scene.labels, model.labels_).acc == 1.0


def test_arrays_and_deterministic_assignment() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 6)) * 5
    truth = np.repeat(np.arange(4), 40)
    points = centres[truth] + rng.normal(size=(160, 6))
    first = SpectralClustering(n_clusters=4, n_components=None, assign_labels="cluster_qr")
    labels = first.fit_predict(points)
    assert labels.shape == (160,)
    assert evaluate(truth, labels).acc > 0.95
    again = clone(first).fit(points)
    np.testing.assert_array_equal(labels, again.labels_)
    assert first.get_params()["n_neighbors"] == 20


def test_spatial_smoothing_needs_a_layout() -> None:
    points = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(DataError, match="needs a Scene"):
        SpectralClustering(n_clusters=2, smoothing_sigma=1.0).fit(points)


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        ("toy", {"n_clusters": 10_000}, r"n_clusters \(K\) must be an integer in \[2, 576\]"),
        ("toy", {"n_clusters": 3, "n_neighbors": 0}, "n_neighbors must be an integer >= 1"),
        ("toy", {"n_clusters": 3, "assign_labels": "magic"}, "assign_labels must be"),
        ("toy", {"n_clusters": 3, "max_pixels": 2}, "max_pixels must be an integer >= n_clusters"),
        ("one pixel", {"n_clusters": 2}, r"must be an integer in \[2, 1\]"),
        ("nan", {"n_clusters": 2}, "NaN"),
    ],
)
def test_bad_input_is_one_clear_error(data: str, options: dict, message: str) -> None:
    if data == "toy":
        value: object = toy_scene()
    elif data == "one pixel":
        value = np.ones((1, 5), dtype=np.float32)
    else:
        value = np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 2.0]])
    with pytest.raises(DataError, match=message):
        SpectralClustering(**options).fit(value)


def test_predict_before_fit_and_band_mismatch() -> None:
    scene = toy_scene()
    with pytest.raises(DataError, match="not fitted yet"):
        SpectralClustering(n_clusters=3).predict(scene)
    model = SpectralClustering(n_clusters=3, n_components=5).fit(scene)
    with pytest.raises(DataError, match="30"):
        model.predict(np.ones((4, 7), dtype=np.float32))


@pytest.mark.datasets("salinas_a")
def test_salinas_a_anchor_matches_its_measured_score() -> None:
    """The anchor the benchmarks print: ACC 0.840, NMI 0.854 on Salinas-A (any seed)."""
    from explore.data.registry import load_scene

    scene = load_scene("salinas_a", download=False)
    scores = score_scene(scene.labels, SpectralClustering(n_clusters=6).fit(scene).labels_)
    assert scores.acc == pytest.approx(0.840, abs=0.02)
    assert scores.nmi == pytest.approx(0.854, abs=0.02)
