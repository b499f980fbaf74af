"""`explore.runs`: one path that builds any registered method, fits it, scores it on labelled
items only and writes the run (the CLI and the dashboard both go through it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from explore.cli import build_parser
from explore.data.images import ImageSet
from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods import DEEP_METHODS, METHODS, SHALLOW_METHODS, method_class
from explore.metrics import evaluate, score_scene
from explore.runs import build_method, fit_run, score
from explore.training import RunHistory


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


def test_one_registry_names_every_method() -> None:
    assert set(SHALLOW_METHODS) == {"kmeans", "spectral"}
    assert set(DEEP_METHODS) == {"sscc", "cc", "sacc", "s3ocnet"}
    assert {name for name, entry in METHODS.items() if entry.kind == "transfer"} == {"transfer"}
    for name, entry in METHODS.items():
        assert method_class(name).__name__ == entry.target.split(":")[1]
        assert entry.summary.endswith(".")
    train = next(
        action
        for action in build_parser()._subparsers._group_actions[0].choices["train"]._actions
        if action.dest == "method"
    )
    assert list(train.choices) == [*SHALLOW_METHODS, *DEEP_METHODS]  # the CLI reads the registry
    with pytest.raises(DataError, match="unknown method 'dbscan'"):
        method_class("dbscan")


@pytest.mark.datasets("salinas_a")
def test_build_method_takes_k_from_the_data_and_refuses_what_does_not_apply(
    small_scene: Scene,
) -> None:
    model = build_method("kmeans", small_scene, seed=3)
    assert model.n_clusters == small_scene.n_classes and model.n_components == 30
    assert build_method("spectral", small_scene, n_clusters=4).n_components == 10
    deep = build_method("cc", small_scene, epochs=3, samples_per_epoch=None)
    assert deep.config == "fast" and deep.device == "auto" and deep.epochs == 3
    with pytest.raises(DataError, match="config, epochs applies to deep methods, not to kmeans"):
        build_method("kmeans", small_scene, config="paper", epochs=2)
    with pytest.raises(DataError, match="components and smoothing apply to kmeans and spectral"):
        build_method("sscc", small_scene, components=4)
    with pytest.raises(DataError, match="needs an extractor"):
        build_method("transfer", small_scene)
    with pytest.raises(DataError, match="integer >= 2; got 1"):
        build_method("kmeans", small_scene, n_clusters=1)
    unlabelled = Scene(small_scene.cube, np.zeros(small_scene.shape[:2], np.int32), name="bare")
    with pytest.raises(DataError, match="bare has no labels to take K from"):
        build_method("kmeans", unlabelled)


@pytest.mark.datasets("salinas_a")
def test_a_shallow_run_is_scored_on_labelled_pixels_and_written(
    small_scene: Scene, tmp_path: Path
) -> None:
    model = build_method("kmeans", small_scene, n_clusters=3, seed=0)
    run = fit_run("kmeans", model, small_scene, out=tmp_path)
    expected = score_scene(small_scene.labels, run.labels)
    assert run.scores == expected
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), run.labels)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["method"] == "kmeans" and metrics["dataset"] == small_scene.name
    assert metrics["acc"] == pytest.approx(expected.acc)
    assert metrics["settings"] == {"clusters": 3, "seed": 0, "components": 30, "smoothing": None}


@pytest.mark.datasets("salinas_a")
def test_a_deep_run_writes_its_history_and_resumes(small_scene: Scene, tmp_path: Path) -> None:
    options = {"epochs": 1, "batch_size": 64, "device": "cpu", "progress": False}
    seen = []
    model = build_method("sscc", small_scene, n_clusters=3, **options)
    run = fit_run("sscc", model, small_scene, out=tmp_path, callbacks=[seen.append])
    assert [record.epoch for record in seen] == [1]
    assert len(RunHistory.load(tmp_path / "history.npz")) == 1
    settings = json.loads((tmp_path / "metrics.json").read_text())["settings"]
    assert settings["epochs"] == 1 and settings["processes"] == 1
    assert settings["neighbour_radius"] == 2 and settings["config"] == "fast"
    assert run.scores is not None and run.scores.n_scored == int((small_scene.labels > 0).sum())
    ready = []
    again = build_method("sscc", small_scene, n_clusters=3, **{**options, "epochs": 2})
    resumed = fit_run(
        "sscc",
        again,
        small_scene,
        out=tmp_path,
        resume=True,
        on_ready=lambda trainer: ready.append(trainer.epoch),
    )
    assert ready == [1] and len(resumed.method.history_) == 2
    with pytest.raises(DataError, match="nothing to resume"):
        fit_run("sscc", build_method("sscc", small_scene, **options), small_scene, resume=True)


def test_image_sets_score_labelled_images_only() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, -1, 1, 0, -1])
    images = ImageSet(rng.random((6, 1, 4, 4), dtype=np.float32), labels, class_names=["a", "b"])
    predicted = np.array([1, 0, 0, 0, 1, 1])
    assert score(images, predicted) == evaluate(labels, predicted, ignore_label=-1)
    assert score(images, predicted).n_scored == 4
    unknown = ImageSet(images.images, np.full(6, -1), class_names=["a", "b"])
    assert score(unknown, predicted) is None
