"""The Training tab's merge and export controls, without a browser: merging relabels the shown
run's outputs (map, sizes, metrics, table) but never the model; exports give the shown epoch's
bytes; bad input is a message in the page, never an exception."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from explore.dashboard.run_tools import FAILED_NAME
from explore.dashboard.session import TrainingSession
from explore.dashboard.training_view import TrainingView
from explore.export import png_scale
from explore.metrics import cluster_accuracy

pytestmark = pytest.mark.datasets("salinas_a")


@pytest.fixture
def kmeans_view():
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6, seed=2)
    view = TrainingView(session=session)
    yield view
    session.close(timeout=60)


def _run(view: TrainingView) -> None:
    assert view.session.start()
    assert view.session.join(120)
    assert view.session.status == "finished", view.session.error


def test_before_any_epoch_nothing_exports_or_merges_and_nothing_raises(kmeans_view) -> None:
    tools = kmeans_view.tools
    assert all(widget.disabled for widget in tools.downloads.values())
    assert "after the first epoch" in tools.export_note.object
    assert not tools.message.visible  # an empty message takes no room
    assert not tools.merge()
    assert "at least two clusters" in tools.message.object and tools.message.visible
    tools.merge_choice.options = {"a": 0, "b": 1}
    tools.merge_choice.value = [0, 1]
    assert not tools.merge()
    assert "no epoch yet" in tools.message.object
    answer = tools.downloads["npy"].callback()  # a click that reached the server anyway
    assert b"no epoch yet" in answer.read()
    assert tools.downloads["npy"].filename == FAILED_NAME
    assert "Export failed: no epoch yet" in tools.message.object


def test_merging_two_clusters_relabels_every_view_but_not_the_model(kmeans_view) -> None:
    view, session, tools = kmeans_view, kmeans_view.session, kmeans_view.tools
    _run(view)
    trained = view.trained_record()
    model_labels = np.array(session.runs[session.run_name].labels)
    assert len(tools.merge_choice.options) == 6
    tools.merge_choice.value = [1, 4]
    assert tools.merge(), tools.message.object
    assert "Merged clusters 1, 4 into cluster 1: 5 clusters now" in tools.message.object
    shown = view.record()
    assert len(shown.cluster_sizes) == 5 and sum(shown.cluster_sizes) == 83 * 86
    sizes = trained.cluster_sizes
    assert shown.cluster_sizes == [sizes[0], sizes[1] + sizes[4], sizes[2], sizes[3], sizes[5]]
    assert set(np.unique(shown.assignments)) <= set(range(5))
    # metrics scored again on the merged clusters (labelled pixels only)
    truth = session.current_data.labels
    labelled = truth > 0
    expected = cluster_accuracy(truth[labelled], shown.assignments[labelled])
    assert shown.metrics["acc"] == pytest.approx(expected)
    assert "1 after merges (5 clusters)" in view.metrics_pane.object
    assert "5 clusters after merges" in view.shown_label.object
    assert len(view.palette()) == 5
    assert view.cluster_view().opts.get().kwargs["title"] == "epoch 1: clusters (merged)"
    assert len(view.confusion_view().get(0).data["cluster"].unique()) == 5
    assert len(tools.merge_choice.options) == 5
    # the model's outputs are unchanged
    assert np.array_equal(session.records[0].assignments, trained.assignments)
    assert np.array_equal(session.runs[session.run_name].labels, model_labels)
    assert np.array_equal(session.current_data.labels, truth)
    # a second merge works on the merged numbers
    tools.merge_choice.value = [0, 1]
    assert tools.merge()
    assert len(view.record().cluster_sizes) == 4
    tools.reset()
    assert session.merge_lookup() is None and view.record() is trained
    assert tools.reset_button.disabled


def test_clicking_the_map_picks_clusters_to_merge(kmeans_view) -> None:
    """A click on a pixel of the map (the Tap stream's x, y) adds its cluster to the merge
    choice, once; a click off the map or before any epoch does nothing; then Merge merges
    them."""
    view, tools = kmeans_view, kmeans_view.tools
    view._on_map_tap(x=10.5, y=42.5)  # no epoch yet
    assert tools.merge_choice.value == []
    _run(view)
    labels = view.record().assignments
    height = labels.shape[0]

    def centre(row: int, col: int) -> tuple[float, float]:
        return col + 0.5, height - row - 0.5

    first = (40, 10)
    second = next(
        (r, c)
        for r in range(height)
        for c in range(labels.shape[1])
        if labels[r, c] != labels[first]
    )
    assert view.cluster_at(*centre(*first)) == labels[first]
    view._on_map_tap(*centre(*first))
    view._on_map_tap(*centre(*first))  # the same cluster again: still once
    assert tools.merge_choice.value == [int(labels[first])]
    assert "pick another" in tools.message.object
    view._on_map_tap(x=-3.0, y=5.0)  # off the map
    view._on_map_tap(*centre(*second))
    assert tools.merge_choice.value == [int(labels[first]), int(labels[second])]
    assert "then press Merge" in tools.message.object
    assert tools.merge()
    assert len(view.record().cluster_sizes) == 5
    merged = view.record().assignments
    assert merged[first] == merged[second]


def test_bad_merges_are_messages_and_change_nothing(kmeans_view) -> None:
    view, session, tools = kmeans_view, kmeans_view.session, kmeans_view.tools
    _run(view)
    tools.merge_choice.value = [2]
    assert not tools.merge()
    assert "at least two clusters" in tools.message.object
    tools.merge_choice.options = {**tools.merge_choice.options, "bogus": 99}
    tools.merge_choice.value = [2, 99]
    assert not tools.merge()
    assert "not in the run" in tools.message.object
    tools.merge_choice.options = {**tools.merge_choice.options, "text": "two"}
    tools.merge_choice.value = [2, "two"]
    assert not tools.merge()
    assert "by their numbers" in tools.message.object
    assert session.merges == {}


def test_exports_give_the_shown_epoch_with_its_merges(kmeans_view) -> None:
    from PIL import Image

    view, session, tools = kmeans_view, kmeans_view.session, kmeans_view.tools
    _run(view)
    tools.merge_choice.value = [0, 2]
    assert tools.merge()
    shown = view.record()
    name = tools.downloads["npy"].filename
    assert name == "salinas_a_kmeans_K6_seed2_epoch1_merged5.npy"
    labels = np.load(tools.downloads["npy"].callback(), allow_pickle=False)
    assert labels.shape == (83, 86) and np.array_equal(labels, shown.assignments)
    png = Image.open(tools.downloads["png"].callback())
    scale = png_scale((83, 86))
    assert png.size == (86 * scale, 83 * scale)
    palette = view.palette()
    row, col = 40, 10
    colour = palette[shown.assignments[row, col]].lstrip("#")
    expected = [int(colour[i : i + 2], 16) for i in (0, 2, 4)]
    assert np.asarray(png)[row * scale + 1, col * scale + 1].tolist() == expected
    payload = json.load(io.TextIOWrapper(tools.downloads["json"].callback()))
    assert payload["method"] == "kmeans" and payload["dataset"] == "salinas_a"
    assert payload["n_clusters"] == 5 and payload["settings"]["clusters"] == 6
    assert payload["settings"]["seed"] == 2 and payload["epoch"] == 1
    assert payload["acc"] == pytest.approx(shown.metrics["acc"])
    assert payload["merges"] == session.merge_lookup().tolist()
    assert [e["epoch"] for e in payload["history"]["epochs"]] == [1]
    assert len(payload["history"]["epochs"][0]["cluster_sizes"]) == 6  # the model's own
    # salinas_a comes from a .mat file: no georeference, so no GeoTIFF, with the reason
    assert tools.downloads["geotiff"].disabled
    assert "salinas_a has no georeference" in tools.export_note.object


def test_a_new_run_starts_unmerged(kmeans_view) -> None:
    view, session, tools = kmeans_view, kmeans_view.session, kmeans_view.tools
    _run(view)
    tools.merge_choice.value = [0, 1]
    assert tools.merge()
    first = session.run_name
    session.n_clusters = 4
    _run(view)
    assert session.merge_lookup() is None and first in session.merges
    assert len(view.record().cluster_sizes) == 4
    assert tools.message.object == "" and not tools.message.visible  # it spoke of run 1
    assert "merged" not in tools.downloads["png"].filename
    assert tools.downloads["png"].filename.startswith("salinas_a_kmeans_K4_seed2_epoch1")


def test_a_scene_without_labels_shows_its_composite_beside_the_map() -> None:
    import holoviews as hv

    from explore.data.scene import Scene

    cube = np.random.default_rng(0).random((12, 10, 5)).astype(np.float32)
    session = TrainingSession(method="kmeans", n_clusters=2)
    name = session.add_upload("plain.npy", Scene(cube, name="plain"))
    session.dataset = name
    view = TrainingView(session=session)
    try:
        _run(view)
        truth = view.truth_view()
        assert isinstance(truth, hv.RGB)
        assert truth.opts.get().kwargs["title"] == "plain: R/G/B (no ground truth)"
    finally:
        session.close(timeout=60)


@pytest.mark.datasets("digits")
def test_image_sets_export_their_label_vector_not_a_picture() -> None:
    session = TrainingSession(dataset="digits", method="kmeans", n_clusters=10)
    view = TrainingView(session=session)
    try:
        _run(view)
        tools = view.tools
        assert tools.downloads["png"].disabled and tools.downloads["geotiff"].disabled
        assert "Image sets have no map picture" in tools.export_note.object
        labels = np.load(tools.downloads["npy"].callback())
        assert labels.shape == (session.current_data.n_images,)
        tools.merge_choice.value = [3, 8]
        assert tools.merge()
        assert len(np.unique(view.record().assignments)) == 9
    finally:
        session.close(timeout=60)


def test_the_embedding_tab_draws_the_runs_merges() -> None:
    """After a merge the Embedding tab colours points by the merged clusters, as the map does
    (it drew the model's own clusters)."""
    from explore.dashboard.app import Dashboard

    dashboard = Dashboard()
    session = dashboard.session
    session.param.update(dataset="salinas_a", method="kmeans", n_clusters=6, seed=2)
    try:
        assert session.start() and session.join(120)
        assert session.status == "finished", session.error
        tools = dashboard.training_view.tools
        tools.merge_choice.value = [1, 4]
        assert tools.merge(), tools.message.object
        run = session.runs[session.run_name]
        dashboard._embed(run)  # what "Embed the last run" runs in its thread
        view = dashboard.embedding_view
        merged = np.asarray(session.merges[run.name])[np.ravel(run.labels)]
        assert set(np.unique(view.assignments)) <= set(range(5))
        np.testing.assert_array_equal(view.assignments, merged[view.pixel_index])
        assert view.cluster_palette == dashboard.training_view.palette()
    finally:
        session.close(timeout=60)
