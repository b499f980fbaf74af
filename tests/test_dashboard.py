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

from explore.dashboard.scene_view import SceneView, available_scenes

REPO = Path(__file__).resolve().parents[1]


def test_default_scene_is_indian_pines_and_other_local_scenes_are_offered() -> None:
    names = available_scenes()
    assert names[0] == "indian_pines"
    assert "salinas_a" in names  # read from EXPLORE_DATA_DIR


def test_band_pickers_redraw_the_composite() -> None:
    view = SceneView()
    assert view.param.red.bounds == (0, 199)
    first = view.composite()
    assert isinstance(first, hv.RGB)
    view.red = 10
    second = view.composite()
    assert not np.array_equal(first.data, second.data)
    truth = view.ground_truth()
    assert truth.dimension_values("label", flat=False).shape == (145, 145)


def test_switching_scene_resets_band_ranges() -> None:
    view = SceneView()
    view.dataset = "salinas_a"
    assert view.param.red.bounds == (0, 203)
    assert view.composite().dimension_values(2, flat=False).shape == (83, 86)


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
