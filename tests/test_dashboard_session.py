"""Dashboard training: sessions train in background threads, publish every epoch, stop on
request, resume, keep runs for comparison, and show errors instead of raising."""

from __future__ import annotations

import time

import holoviews as hv
import numpy as np
import pytest

from explore.dashboard.compare_view import CompareView, comparison_table
from explore.dashboard.session import TrainingSession, available_datasets
from explore.dashboard.training_controls import TrainingControls
from explore.dashboard.training_view import (
    TrainingView,
    aligned_clusters,
    cluster_class_table,
    loss_term_notes,
)
from explore.data.scene import Scene
from explore.losses import describe_loss_term
from explore.methods import METHODS
from explore.metrics import cluster_accuracy
from explore.training.history import EpochRecord

pytestmark = pytest.mark.datasets("salinas_a")


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test(monkeypatch):
    """Every session made in a test is closed at its end (no training thread leaks)."""
    made: list[TrainingSession] = []
    original = TrainingSession.__init__

    def tracking_init(self, **params):
        original(self, **params)
        made.append(self)

    monkeypatch.setattr(TrainingSession, "__init__", tracking_init)
    yield
    for session in made:
        session.close(timeout=60)


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_only_local_datasets_are_offered_scenes_first() -> None:
    names = available_datasets()
    assert names[0] == "indian_pines"
    assert "salinas_a" in names and "digits" in names
    assert names.index("salinas_a") < names.index("digits")


def test_kmeans_run_publishes_one_record_and_is_kept() -> None:
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6)
    assert session.start()
    assert session.join(120)
    assert session.status == "finished", session.error
    assert len(session.records) == 1
    record = session.records[0]
    assert record.assignments.shape == (83, 86)
    assert 0.5 < record.metrics["acc"] <= 1.0
    assert list(session.runs) == [session.run_name]


def test_the_page_offers_the_registry_and_runs_the_spectral_anchor() -> None:
    from explore.methods import DEEP_METHODS, SHALLOW_METHODS
    from explore.methods.spectral import SpectralClustering
    from explore.metrics import score_scene

    session = TrainingSession(dataset="salinas_a", method="spectral", n_clusters=6)
    assert list(session.param.method.objects) == [*SHALLOW_METHODS, *DEEP_METHODS]
    assert session.start() and session.join(120)
    assert session.status == "finished", session.error
    record = session.records[0]
    expected = SpectralClustering(n_clusters=6).fit(session.data())
    np.testing.assert_array_equal(record.assignments, expected.labels_)
    scores = score_scene(session.data().labels, expected.labels_)
    assert record.metrics["acc"] == pytest.approx(scores.acc)  # scored by explore.runs
    assert not session.resume()  # an anchor has nothing to resume


def test_deep_run_streams_epochs_from_a_thread_then_resumes() -> None:
    session = TrainingSession(dataset="salinas_a", method="sscc", n_clusters=6, epochs=2)
    seen: list[int] = []
    session.param.watch(lambda event: seen.append(event.new), "epoch")
    assert session.start()
    assert session.status == "running" and session.epoch == 0  # the thread trains
    assert session.join(300)
    assert session.status == "finished", session.error
    assert seen[-2:] == [1, 2]
    assert [r.epoch for r in session.records] == [1, 2]
    first_model_labels = session.records[-1].assignments.copy()
    sample = session.frame_sample.copy()
    assert len(session.frames) == 2 and session.frames[0].shape == (2000, 2)
    assert session.resume(1)
    assert session.join(300)
    assert session.status == "finished", session.error
    assert [r.epoch for r in session.records] == [1, 2, 3]
    assert session.trainer.epoch == 3
    # The resumed epochs are projected like the first ones: same items, same fitted axes.
    assert len(session.frames) == 3 and session.frames[2].dtype == np.float32
    np.testing.assert_array_equal(session.frame_sample, sample)
    assert "fitted once" in session.frame_note
    kept = session.runs[session.run_name].extra
    assert len(kept["frames"]) == 3 and kept["frame_sample"] is session.frame_sample
    assert session.records[-1].assignments.shape == first_model_labels.shape


def test_stop_ends_the_thread_after_the_current_batch() -> None:
    session = TrainingSession(dataset="indian_pines", method="sscc", n_clusters=16, epochs=200)
    assert session.start()
    _wait_for(lambda: session.epoch >= 1, timeout=300)
    session.stop()
    assert session.join(120)
    assert session.status == "stopped"
    assert session.epoch < 200
    run = session.runs[session.run_name]
    assert run.status == "stopped"


def test_bad_settings_and_failures_are_shown_not_raised() -> None:
    session = TrainingSession(dataset="salinas_a", method="sscc", n_clusters=100000)
    assert not session.start()
    assert session.status == "failed"
    assert "larger than" in session.error
    session.n_clusters = 6
    session.band_range = (0, 1)  # one band: PCA to 8 components still works on one band
    assert session.resume() is False
    assert "nothing to resume" in session.error


def test_band_range_selects_the_training_bands() -> None:
    session = TrainingSession(dataset="salinas_a", band_range=(10, 60))
    assert session.data().n_bands == 50
    session.band_range = (0, 204)
    assert session.data().n_bands == 204


def test_image_sets_train_and_show_sample_grids() -> None:
    session = TrainingSession(dataset="digits", method="cc", n_clusters=10, epochs=1)
    view = TrainingView(session=session)
    assert session.start()
    assert session.join(300)
    assert session.status == "finished", session.error
    assert session.records[-1].assignments.shape == (1797,)
    assert view.shown == 1
    assert isinstance(view.cluster_view(), hv.RGB | hv.Image | hv.Overlay)


def test_three_sessions_at_once_keep_their_own_runs() -> None:
    sessions = [
        TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6, seed=1),
        TrainingSession(dataset="salinas_a", method="sscc", n_clusters=6, epochs=1),
        TrainingSession(dataset="digits", method="kmeans", n_clusters=10),
    ]
    for session in sessions:
        assert session.start()
    for session in sessions:
        assert session.join(300)
        assert session.status == "finished", session.error
    shapes = [s.records[-1].assignments.shape for s in sessions]
    assert shapes == [(83, 86), (83, 86), (1797,)]
    assert [len(s.runs) for s in sessions] == [1, 1, 1]
    assert len({id(s.records) for s in sessions}) == 3


def test_training_view_follows_epochs_and_replays() -> None:
    session = TrainingSession(dataset="salinas_a", method="sscc", n_clusters=6, epochs=2)
    view = TrainingView(session=session)
    controls = TrainingControls(session=session)
    assert view.record() is None
    assert isinstance(view.cluster_view(), hv.Image)
    controls.start_button.clicks += 1
    assert session.join(300)
    assert session.status == "finished", session.error
    assert view.shown == 2 and view.player.end == 2
    assert controls.epoch_counter.object == "epoch 2 / 2"
    latest = view.cluster_view()
    assert "epoch 2" in latest.opts.get().kwargs["title"]
    view.player.value = 1
    assert view.shown == 1
    replayed = view.cluster_view()
    assert "epoch 1" in replayed.opts.get().kwargs["title"]
    assert isinstance(view.losses_view(), hv.Overlay)
    assert isinstance(view.metrics_view(), hv.Overlay)
    view.highlight = np.array([0, 5, 100])
    assert isinstance(view.cluster_view(), hv.Overlay)


def test_the_moving_embedding_follows_the_player_in_the_run_colours() -> None:
    from explore.dashboard.app import Dashboard
    from explore.dashboard.moving_embedding import NO_FRAMES

    dashboard = Dashboard()
    session, view = dashboard.session, dashboard.moving_embedding
    training = dashboard.training_view
    session.param.update(dataset="salinas_a", method="sscc", n_clusters=6, epochs=2)
    assert view.frame() is None and view.note.object == NO_FRAMES
    assert "no frame yet" in view.plot().opts.get().kwargs["title"]
    assert session.start() and session.join(300)
    assert session.status == "finished", session.error
    assert training.shown == 2
    np.testing.assert_array_equal(view.frame(), session.frames[1])
    latest = view.plot()
    assert "epoch 2: embedding of 2000 items" in latest.opts.get().kwargs["title"]
    points = latest.get(0)
    palette = training.palette()
    clusters = session.records[1].assignments.ravel()[session.frame_sample]
    assert list(points.dimension_values("colour")) == [palette[k] for k in clusters]
    view.step(-1)  # its button steps the player, which replays the embedding with the maps
    assert training.player.value == 1 and training.shown == 1
    view.step(-5)
    assert training.player.value == 1
    earlier = view.plot().get(0)
    assert not np.allclose(earlier.array([0, 1]), points.array([0, 1]))
    assert earlier.opts.get().kwargs["xlim"] == points.opts.get().kwargs["xlim"]  # one frame
    # A box in it outlines its items' pixels on the map; a box on the map highlights them here.
    frame = view.frame()
    view.bounds_stream.event(bounds=(-1e9, -1e9, float(np.median(frame[:, 0])), 1e9))
    assert 0 < len(view.selection) < len(frame)
    np.testing.assert_array_equal(training.highlight, session.frame_sample[view.selection])
    training.map_selection = session.frame_sample[:10].tolist()
    assert view.highlighted == list(range(10))
    assert session.start() and session.join(300)  # a new run drops the old selection
    assert view.selection == [] and view.highlighted == []


def test_anchors_have_no_moving_embedding() -> None:
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6)
    assert session.start() and session.join(300)
    assert session.frames == [None] and session.frame_sample is None


def test_controls_show_errors_as_an_alert() -> None:
    session = TrainingSession(dataset="salinas_a", method="sscc", n_clusters=100000)
    controls = TrainingControls(session=session)
    controls.start_button.clicks += 1
    assert controls.alert.visible
    assert "larger than" in controls.alert.object


def test_aligned_clusters_take_the_matched_class_colours() -> None:
    truth = np.array([[1, 1, 2, 2], [0, 3, 3, 0]])
    clusters = np.array([[2, 2, 0, 0], [1, 1, 1, 3]])
    aligned = aligned_clusters(clusters, truth)
    assert aligned[0, 0] == 1 and aligned[0, 2] == 2 and aligned[1, 1] == 3
    assert aligned[1, 3] == 4  # unmatched cluster after the classes
    assert np.array_equal(aligned_clusters(clusters, None), clusters + 1)


def test_cluster_class_table_puts_the_matched_clusters_on_the_diagonal() -> None:
    truth = np.array([[1, 1, 2, 2, 0], [3, 3, 3, 2, 0]])  # 0: unlabelled, not counted
    clusters = np.array([[2, 2, 0, 0, 1], [1, 1, 0, 0, 3]])  # cluster 3 only on unlabelled
    table, cluster_ids, classes = cluster_class_table(clusters, truth, n_clusters=5)
    assert classes == [1, 2, 3]
    assert cluster_ids == [2, 0, 1, 3, 4]  # matched to classes 1, 2, 3; then the rest (empty)
    assert table.tolist() == [[2, 0, 0], [0, 3, 1], [0, 0, 2], [0, 0, 0], [0, 0, 0]]
    assert table.shape == (5, 3) and table.sum() == np.count_nonzero(truth)
    labelled = truth > 0
    accuracy = np.trace(table[:3]) / table.sum()  # the diagonal is what ACC counts
    assert accuracy == cluster_accuracy(truth[labelled], clusters[labelled])
    # more classes than clusters: one row per cluster, a class may have no cluster
    table, cluster_ids, classes = cluster_class_table(
        np.array([0, 0, 1, 1]), np.array([1, 2, 3, 3])
    )
    assert table.shape == (2, 3) and cluster_ids == [0, 1] and classes == [1, 2, 3]
    with pytest.raises(ValueError, match="no labelled item"):
        cluster_class_table(np.array([0, 1]), np.array([0, 0]))


def test_loss_term_notes_describe_each_logged_term_once() -> None:
    def record(epoch: int, losses: dict[str, float]) -> EpochRecord:
        zeros = np.zeros(4, dtype=np.int64)
        return EpochRecord(epoch=epoch, losses=losses, assignments=zeros, cluster_sizes=[4])

    records = [record(1, {"loss": 2.0, "on_diagonal": 1.0}), record(2, {"loss": 1.0})]
    lines = loss_term_notes(records).splitlines()
    assert lines == [
        f"- **loss**: {describe_loss_term('loss')}",
        f"- **on_diagonal**: {describe_loss_term('on_diagonal')}",
    ]
    assert loss_term_notes([]) == "" and loss_term_notes([record(1, {})]) == ""


def test_the_page_explains_the_method_the_loss_terms_and_marks_the_shown_epoch() -> None:
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6, epochs=2)
    view = TrainingView(session=session)
    controls = TrainingControls(session=session)
    assert controls.method_summary.object == METHODS["kmeans"].summary
    session.method = "sscc"
    assert controls.method_summary.object == METHODS["sscc"].summary
    assert view.loss_terms.object == "" and not _spans(view.losses_view())
    assert "after the first epoch" in view.confusion_view().get(0).opts.get().kwargs["title"]
    controls.start_button.clicks += 1
    assert session.join(300)
    assert session.status == "finished", session.error
    terms = sorted(session.records[-1].losses)
    assert terms and view.loss_terms.object.count("- **") == len(terms)
    assert all(describe_loss_term(term) in view.loss_terms.object for term in terms)
    assert _spans(view.losses_pane.object) == _spans(view.metrics_plot.object) == [2]
    view.player.value = 1  # the replayed epoch is marked on both plots
    assert _spans(view.losses_pane.object) == _spans(view.metrics_plot.object) == [1]
    heat = view.confusion_view().get(0)
    assert "epoch 1" in heat.opts.get().kwargs["title"]
    assert len(heat) == 6 * 6  # K clusters x 6 classes of Salinas-A


@pytest.mark.parametrize("labels", [None, np.zeros((4, 5), dtype=np.int64)])
def test_no_clusters_vs_classes_without_labels(monkeypatch, labels) -> None:
    view = TrainingView(session=TrainingSession(dataset="salinas_a"))
    cube = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    monkeypatch.setattr(view, "_data", lambda: Scene(cube=cube, labels=labels, name="plain"))
    note = view.confusion_view()
    assert note.object == "No clusters-vs-classes table: plain has no labels."


def _spans(overlay: hv.Overlay) -> list[float]:
    return [element.data for element in overlay if isinstance(element, hv.VLine)]


def test_compare_view_shows_two_runs() -> None:
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6)
    compare = CompareView(session=session)
    session.start()
    session.join(120)
    session.seed = 1
    session.start()
    session.join(120)
    assert len(session.runs) == 2
    assert compare.left != compare.right
    table = comparison_table(list(session.runs.values()))
    assert "acc" in table and table.count("kmeans") >= 2
    assert compare.maps() is not None


def test_compare_shows_each_run_with_its_merges() -> None:
    """A merge made on the Training tab is what Compare draws and scores for that run; the
    other run stays as trained."""
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6)
    compare = CompareView(session=session)
    try:
        for seed in (0, 1):
            session.seed = seed
            assert session.start()
            assert session.join(120)
        first, second = list(session.runs)
        before = {run.name: run for run in compare._chosen()}
        session.merge([0, 1])  # the current run: the second one
        shown = {run.name.removesuffix(" (merged)"): run for run in compare._chosen()}
        merged = shown[second]
        assert merged.name == f"{second} (merged)"
        assert set(np.unique(merged.labels)) == set(range(5))
        expected = session.merge_lookup()[session.runs[second].labels]
        assert np.array_equal(merged.labels, expected)
        truth = session.current_data.labels
        labelled = truth > 0
        acc = cluster_accuracy(truth[labelled], merged.labels[labelled])
        assert merged.metrics["acc"] == pytest.approx(acc)
        assert shown[first] is before[first]  # unmerged: the run itself
        assert "(merged)" in compare.table().object
        assert np.array_equal(session.runs[second].labels, before[second].labels)  # kept
    finally:
        session.close(timeout=60)


@pytest.mark.parametrize("method", ["sacc", "s3ocnet"])
def test_every_deep_method_runs_from_the_dashboard(method: str) -> None:
    session = TrainingSession(dataset="salinas_a", method=method, n_clusters=6, epochs=1)
    assert session.start()
    assert session.join(300)
    assert session.status == "finished", session.error


def test_a_running_epoch_shows_provisional_maps(monkeypatch) -> None:
    """While an epoch runs the session publishes provisional maps (`live`) and the Training
    view draws the newest one; the epoch's record replaces it. With feature clusters (the fast
    config) they start once the first epoch has fitted its centres."""
    import explore.dashboard.session as session_module

    monkeypatch.setattr(session_module, "LIVE_INTERVAL", 0.0)
    session = TrainingSession(dataset="salinas_a", method="sscc", n_clusters=6, epochs=2)
    view = TrainingView(session=session)
    seen: list = []
    titles: list[str] = []

    def on_live(event) -> None:
        if event.new is not None:
            seen.append(event.new)
            titles.append(view.cluster_view().opts.get().kwargs.get("title", ""))

    session.param.watch(on_live, "live")
    try:
        assert session.start() and session.join(600)
        assert session.status == "finished", session.error
    finally:
        session.close(timeout=60)
    assert seen and all(m.epoch == 2 and m.assignments.shape == (83, 86) for m in seen)
    batches = [m.batch for m in seen]  # at most a quarter of the time goes to these maps
    assert len(batches) >= 2 and batches == sorted(set(batches))
    assert batches[-1] < seen[0].n_batches  # never after the last batch: its record follows
    assert titles and all(t.startswith("epoch 2 (batch ") for t in titles), titles[:3]
    assert session.live is None and view.live_map() is None
    assert view.cluster_view().opts.get().kwargs["title"].startswith("epoch 2: clusters")
