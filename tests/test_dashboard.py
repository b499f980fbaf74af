"""The dashboard page: components at the Python level, and `panel serve` answering on localhost."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import holoviews as hv
import numpy as np
import pytest

from explore.dashboard.app import Dashboard
from explore.dashboard.scene_view import SceneView, available_scenes
from explore.viz import pixels_in_box

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.datasets("salinas_a")
def test_default_scene_is_indian_pines_and_other_local_scenes_are_offered() -> None:
    names = available_scenes()
    assert names[0] == "indian_pines"
    assert "salinas_a" in names  # read from EXPLORE_DATA_DIR


def test_band_pickers_redraw_the_composite() -> None:
    view = SceneView()
    assert view.param.red.bounds == (0, 199)
    first = view.composite()  # the composite under its (transparent) ground truth
    assert isinstance(first, hv.Overlay) and isinstance(first.get(0), hv.RGB)
    view.red = 10
    second = view.composite()
    assert not np.array_equal(first.get(0).data, second.get(0).data)
    view.overlay_truth = True  # the same kind of element, so a DynamicMap can redraw it
    assert type(view.composite()) is type(second) and len(view.composite()) == len(second)
    truth = view.ground_truth()
    assert truth.dimension_values("label", flat=False).shape == (145, 145)


@pytest.mark.datasets("salinas_a")
def test_switching_scene_resets_band_ranges() -> None:
    view = SceneView()
    view.dataset = "salinas_a"
    assert view.param.red.bounds == (0, 203)
    assert view.composite().get(0).dimension_values(2, flat=False).shape == (83, 86)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_panel_serve_answers_on_localhost() -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(REPO / "apps/hsi_dashboard.py"),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--allow-websocket-origin",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/hsi_dashboard", timeout=60
                ) as response:
                    assert response.status == 200
                    body = response.read().decode()
                    break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        assert "explore" in body, server.stdout.read() if server.poll() is not None else "timeout"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_pixels_in_box_takes_the_pixels_whose_centres_are_inside() -> None:
    # A 4 x 5 map: pixel (row, col) is centred at x = col + 0.5, y = 4 - row - 0.5 (row 0 on top).
    assert pixels_in_box((4, 5), (0.0, 3.0, 2.0, 4.0)).tolist() == [0, 1]  # top-left corner
    assert pixels_in_box((4, 5), (2.0, 4.0, 0.0, 3.0)).tolist() == [0, 1]  # any corner order
    assert pixels_in_box((4, 5), (4.2, 0.2, 4.8, 0.8)).tolist() == [19]  # bottom-right pixel
    assert pixels_in_box((4, 5), (-10, -10, 10, 10)).tolist() == list(range(20))
    assert pixels_in_box((4, 5), (1.6, 0.0, 1.9, 4.0)).tolist() == []  # between two centres
    assert pixels_in_box((4, 5), None).tolist() == []


def test_box_on_the_cluster_map_highlights_those_pixels_in_the_embedding() -> None:
    dashboard = Dashboard()
    training, embedding = dashboard.training_view, dashboard.embedding_view
    height, width = dashboard.session.data().labels.shape  # Indian Pines, 145 x 145
    assert isinstance(training.cluster_view(), hv.Image)  # the map has the box-select stream
    assert training.map_bounds.source is not None

    # Embedded items: every third pixel; a fixed layout stands in for UMAP's points.
    pixel_index = np.arange(0, height * width, 3)
    embedding.param.update(
        features=np.zeros((pixel_index.size, 2), dtype=np.float32),
        assignments=np.arange(pixel_index.size) % 3,
        pixel_index=pixel_index,
    )
    training.map_bounds.event(bounds=(0.0, height - 10.0, 10.0, float(height)))
    assert len(training.map_selection) == 100  # the top-left 10 x 10 pixels
    assert embedding.highlighted == []  # nothing embedded yet: only a hint
    assert "compute the embedding" in embedding.status

    sample = np.arange(0, pixel_index.size, 2)  # half of the items were embedded
    points = np.random.default_rng(0).normal(size=(sample.size, 2))
    embedding.param.update(points=points, sample_index=sample)  # the UMAP arrives
    selected = set(pixels_in_box((height, width), (0.0, height - 10.0, 10.0, float(height))))
    assert set(training.map_selection) == selected
    expected = [i for i, item in enumerate(sample) if pixel_index[item] in selected]
    assert embedding.highlighted == expected and len(expected) > 0  # the box is applied
    assert f"{len(expected)} of them are embedded" in embedding.status
    embedding.highlight_pixels(None)
    training.map_bounds.event(bounds=(10.0, height - 10.0, 0.0, float(height)))  # same box
    assert embedding.highlighted == expected
    figure = hv.render(embedding.plot())
    highlighted = [
        item
        for item in figure.legend[0].items
        if getattr(item.label, "value", None) == "highlighted"
    ]
    assert len(highlighted[0].renderers[0].data_source.data["x"]) == len(expected)

    training.map_bounds.event(bounds=(1e6, 1e6, 2e6, 2e6))  # an empty box clears
    assert training.map_selection == [] and embedding.highlighted == []
