"""The dashboard's Training view in a notebook (`explore.dashboard.notebook.watch`): a run
started from a method object or name on a Scene / ImageSet object trains to its end in the
background, its view shows the last epoch, `wait()` returns the fitted method, `stop()` ends it
early, and bad input raises the dashboard's messages. (Notebook 03 displays it under nbval.)"""

from __future__ import annotations

import asyncio
import threading
import time

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from explore.dashboard.notebook import LiveRun, NotebookSession, watch
from explore.data.images import ImageSet
from explore.data.registry import load_scene
from explore.errors import DataError
from explore.methods.kmeans import KMeansClustering
from explore.methods.sscc import SSCC


@pytest.fixture(scope="module")
def train():
    """A 40 x 48 corner of Indian Pines (shipped with the package): two SSCC epochs in ~2 s."""
    return load_scene("indian_pines").crop(slice(0, 40), slice(0, 48))


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test(monkeypatch):
    """Every run made in a test is stopped and joined at its end."""
    made: list[NotebookSession] = []
    original = NotebookSession.__init__

    def tracking_init(self, *args, **params):
        original(self, *args, **params)
        made.append(self)

    monkeypatch.setattr(NotebookSession, "__init__", tracking_init)
    yield
    for session in made:
        session.close(timeout=60)


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _title(element) -> str:
    return element.opts.get().kwargs.get("title", "")


def test_a_watched_method_trains_to_the_end_and_its_view_shows_the_last_epoch(train) -> None:
    model = SSCC(n_clusters=16, config="fast", epochs=2, seed=0)
    run = watch(model, train)
    assert isinstance(run, LiveRun) and run.status in ("running", "finished")
    assert run.wait(300) is model  # the user's object, fitted in place as `fit` would
    assert run.status == "finished", run.session.error
    assert [record.epoch for record in run.history] == [1, 2]
    assert model.labels_.shape == (40, 48)
    np.testing.assert_array_equal(model.labels_, run.history.last.assignments)
    assert model.progress is None and model.epochs == 2  # its settings untouched
    view = run.view
    assert view.shown == 2 and view.player.end == 2 and view.live_map() is None
    latest = view.cluster_view()
    assert _title(latest).startswith("epoch 2: clusters")
    assert "epoch 2 of 2" in view.shown_label.object
    assert "finished after 2 epochs" in run.status_line.object
    assert run.stop_button.disabled
    assert "sscc on indian_pines (K=16)" in run.session.run_name
    layout = run.__panel__()  # the dashboard's view under a status line and Stop
    assert layout.objects[0].objects[0] is run.stop_button
    assert layout.select(pn.widgets.Player) == [run.view.player]
    # the map is redrawn in place (a DynamicMap), not swapped for a new figure per update
    maps = [pane.object for pane in layout.select(pn.pane.HoloViews)]
    assert any(isinstance(element, hv.DynamicMap) for element in maps)
    assert "box-select" not in str(run.view.__panel__())  # no embedding to highlight in


def test_stop_ends_a_watched_run_early_with_its_epochs(train) -> None:
    run = watch("sscc", train, n_clusters=8, epochs=200, seed=1)
    assert run.session.given is None and run.session.epochs == 200
    assert run.status == "running" and not run.stop_button.disabled
    _wait_for(lambda: len(run.session.records) >= 1, timeout=300)
    run.stop()
    method = run.wait(120)
    assert run.status == "stopped"
    epochs = len(run.history)
    assert 1 <= epochs < 200
    assert method.n_clusters == 8 and method.labels_.shape == (40, 48)
    assert run.view.shown == epochs
    assert _title(run.view.cluster_view()).startswith(f"epoch {epochs}: clusters")
    assert "stopped after" in run.status_line.object


def test_an_anchor_on_an_image_set_shows_its_image_grid() -> None:
    images = ImageSet(
        np.random.default_rng(0).random((60, 1, 8, 8), dtype=np.float32),
        labels=np.repeat(np.arange(3), 20),
        name="noise",
    )
    run = watch(KMeansClustering(n_clusters=3, n_components=5, seed=0), images)
    assert run.wait(120).labels_.shape == (60,)
    assert run.status == "finished" and run.view.shown == 1
    assert isinstance(run.view.cluster_view(), hv.RGB | hv.Overlay | hv.Image)


def test_bad_input_raises_the_dashboards_messages(train) -> None:
    with pytest.raises(DataError, match="larger than the 1920 items"):
        watch("sscc", train, n_clusters=5000)
    with pytest.raises(DataError, match="larger than the 1920 items"):
        watch(SSCC(n_clusters=5000), train)
    with pytest.raises(DataError, match="unknown config 'nope'"):
        watch(SSCC(n_clusters=4, config="nope"), train)
    with pytest.raises(DataError, match="unknown method 'umap'"):
        watch("umap", train)
    with pytest.raises(DataError, match="unknown setting lr"):
        watch("sscc", train, lr=0.1)
    with pytest.raises(DataError, match="brings its own settings"):
        watch(SSCC(n_clusters=4), train, epochs=3)
    with pytest.raises(DataError, match="Scene or an ImageSet"):
        watch("kmeans", train.cube, n_clusters=4)
    with pytest.raises(DataError, match="not a method the live view trains"):
        watch(object(), train)


def test_a_failing_run_shows_its_error_and_wait_raises_it(train, monkeypatch) -> None:
    def diverge(self, *args, **kwargs):
        raise FloatingPointError("the loss diverged")

    monkeypatch.setattr(SSCC, "training_loss", diverge)
    run = watch(SSCC(n_clusters=4, epochs=1), train)
    with pytest.raises(FloatingPointError, match="the loss diverged"):
        run.wait(120)
    assert run.status == "failed" and "the loss diverged" in run.status_line.object


def test_in_a_kernel_the_view_updates_on_the_kernels_thread(train) -> None:
    """In a notebook the run's updates reach the view on the kernel's thread (its event loop
    applies them while idle, `wait()` while it waits), never from the training thread, which
    would race the kernel's handling of the browser's messages on the same Bokeh document."""
    threads: list[threading.Thread] = []

    def note(*events) -> None:
        threads.append(threading.current_thread())

    async def kernel() -> tuple[LiveRun, LiveRun]:
        idle = watch(SSCC(n_clusters=16, epochs=2, seed=0), train)
        for watched in (idle.view, idle.view.shown_label, idle.status_line):
            watched.param.watch(note, "shown" if watched is idle.view else "object")
        while idle.session.running:  # the cell is done: the kernel idles
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        busy = watch("kmeans", train, n_clusters=4)
        busy.view.param.watch(note, "shown")
        busy.wait(120)  # a cell that blocks the kernel: wait() applies the updates itself
        return idle, busy

    idle, busy = asyncio.run(kernel())
    assert threads and all(thread is threading.main_thread() for thread in threads)
    assert idle.view.shown == 2 and "finished after 2 epochs" in idle.status_line.object
    assert [record.epoch for record in idle.history] == [1, 2]
    assert idle.session.runs[idle.session.run_name].history.last.epoch == 2
    assert busy.view.shown == 1 and busy.status == "finished"
