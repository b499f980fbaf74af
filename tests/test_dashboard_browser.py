"""The dashboard in a real browser: `panel serve apps/hsi_dashboard.py` driven by headless
Chromium through Playwright.

The tests run in file order on one page (one browser session) and build on each other: the page
loads on Indian Pines, a band picker redraws the composite, bad settings show an error, a 2-epoch
SSCC run on Salinas-A streams its epochs and map, the epoch player replays epoch 1, the embedding
tab computes a UMAP, and a box drawn on the cluster map highlights those pixels there. Each step
saves a screenshot in its tmp_path.

Chromium is the system's (`EXPLORE_CHROMIUM`, default /usr/bin/chromium). Without it (or without
the playwright package) the tests skip, unless `EXPLORE_REQUIRE_BROWSER=1` (CI), where they fail
(`browser_harness.require_browser`).
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser_harness import (
    VIEWPORT,
    DashboardServer,
    canvas_signature,
    choose_dataset,
    deep_text,
    launch_chromium,
    open_tab,
    plot_frame,
    plot_frames,
    require_browser,
    server_env,
    set_number,
    wait_for,
)
from PIL import Image

from explore.augment import describe_operation
from explore.dashboard.scene_view import map_frame
from explore.losses import describe_loss_term
from explore.methods import METHODS

pytestmark = pytest.mark.slow
# The cluster map of epoch 1 (not "epoch 1: clusters vs classes", which the title test of a
# plain string also finds, in whatever order BokehJS lists the plots).
EPOCH_1_MAP = re.compile(r"^epoch 1: clusters( \(merged\))?$")

SEEN: dict[str, str] = {}  # steps done and canvas signatures, handed from one test to the next
LOAD_TIMEOUT_MS = 180_000
TRAIN_TIMEOUT_MS = 420_000  # 2 SSCC epochs on Salinas-A: ~10 s alone, minutes on a busy CPU
UMAP_TIMEOUT_MS = 300_000


def _after(step: str) -> None:
    """Skip a test whose earlier step (a test above it) did not pass."""
    if step not in SEEN:
        pytest.skip(f"needs the earlier step '{step}', which did not pass")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DashboardServer]:
    """`panel serve` on a free port of 127.0.0.1 for this module; stopped afterwards."""
    require_browser()
    folder = tmp_path_factory.mktemp("dashboard_server")
    cache = getattr(request.config, "cache", None)  # numba's, kept between runs: see server_env
    env = server_env(
        cache_dir=folder / "cache", numba_cache_dir=cache.mkdir("numba") if cache else None
    )
    dashboard = DashboardServer(env=env, log_path=folder / "panel_serve.log").start()
    try:
        dashboard.wait_until_serving(timeout=LOAD_TIMEOUT_MS / 1000)
        yield dashboard
    finally:
        dashboard.stop()


@pytest.fixture(scope="module")
def browser(server: DashboardServer) -> Iterator:
    """Headless Chromium for this module's pages."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a busy 2-core server answers in seconds, not ms
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(server: DashboardServer, browser) -> Iterator:
    """One Chromium page (one dashboard session) shared by the step-by-step tests above the
    defect tests."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(60_000)
    page.goto(server.url, timeout=LOAD_TIMEOUT_MS)
    yield page
    page.close()


SHOT_VIEWPORT = {"width": 1600, "height": 1000}


@pytest.fixture
def fresh_page(server: DashboardServer, browser) -> Iterator:
    """A page of its own (own browser context: own dashboard session) at 1600 x 1000, loaded
    with its composite drawn; closed after the test."""
    context = browser.new_context(viewport=SHOT_VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.url, timeout=LOAD_TIMEOUT_MS)
    wait_for(lambda: canvas_signature(page, "composite-plot") != "", 180, "the composite")
    yield page
    context.close()


def _expect():
    from playwright.sync_api import expect

    return expect


def _snap(page, tmp_path: Path, name: str, full_page: bool = True) -> None:
    """A screenshot in the test's tmp_path, copied to `EXPLORE_SCREENSHOTS` when set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    folder = os.environ.get("EXPLORE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def _choose_dataset(page, name: str) -> None:
    """Pick a dataset in the sidebar and wait until the scene view shows it."""
    choose_dataset(page, name)
    if name != "digits":
        plot_frame(page, f"{name}: R/G/B")


def _train(page, method: str, k: int, epochs: int = 1, timeout: float = TRAIN_TIMEOUT_MS) -> None:
    """Set method, K and epochs in the sidebar, press Start and wait until the run finished."""
    page.locator(".method-select select").select_option(method)
    page.locator(".config-select select").select_option("fast")
    set_number(page, "k-input", k)
    set_number(page, "epochs-input", epochs)
    page.wait_for_timeout(500)  # the inputs reach the server before the click
    page.locator(".start-button button").click()
    this_run = re.compile(rf"finished: \d+\. {method} on .*\(K={k}\)")
    _expect()(page.locator(".run-status")).to_contain_text(this_run, timeout=timeout)


def _colours(png: bytes) -> int:
    """Number of distinct colours in a screenshot (a blank or one-colour plot has few)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(image, axis=0))


def test_page_loads_on_the_indian_pines_composite(page, tmp_path: Path) -> None:
    composite = page.locator(".composite-plot")
    _expect()(page.locator(".dataset-select select")).to_have_value("indian_pines")
    composite.locator("canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_for(lambda: canvas_signature(page, "composite-plot") != "", 60, "a drawn composite")
    page.get_by_text("R: band 24 (637 nm)").wait_for()  # Indian Pines' natural-colour bands
    page.wait_for_timeout(500)
    assert _colours(composite.screenshot()) > 500  # an image, not a blank plot
    _snap(page, tmp_path, "01_loaded")
    SEEN["loaded"] = "yes"


def test_band_picker_redraws_the_composite(page, tmp_path: Path) -> None:
    _after("loaded")
    composite = page.locator(".composite-plot")
    before_png = composite.screenshot()
    before = canvas_signature(page, "composite-plot")
    handle = page.locator(".red-band .noUi-handle")
    for _ in range(5):  # red band 24 -> 29
        handle.press("ArrowRight")
    page.get_by_text("R: band 29").wait_for()
    wait_for(lambda: canvas_signature(page, "composite-plot") != before, 30, "a new composite")
    page.wait_for_timeout(500)
    assert composite.screenshot() != before_png
    _snap(page, tmp_path, "02_red_band_29")


def test_bad_settings_show_an_error_and_the_server_keeps_serving(
    page, server: DashboardServer, tmp_path: Path
) -> None:
    _after("loaded")
    page.locator(".dataset-select select").select_option("salinas_a")
    _expect()(page.locator(".k-input input")).to_have_value("6")  # K follows the dataset
    page.locator(".method-select select").select_option("sscc")
    set_number(page, "k-input", 100000)
    page.locator(".start-button button").click()
    alert = page.locator(".run-error")
    _expect()(alert).to_be_visible()
    _expect()(alert).to_contain_text("larger than")
    _expect()(page.locator(".run-status")).to_contain_text("failed")
    _snap(page, tmp_path, "03_error")
    assert server.alive() and server.answers()
    # The same session carries on: the Salinas-A composite replaces Indian Pines'.
    page.get_by_text("Training bands: 0..203 (204 of 204)").wait_for()  # the scene followed


def test_two_epoch_run_streams_epochs_and_the_cluster_map(page, tmp_path: Path) -> None:
    _after("loaded")
    set_number(page, "k-input", 6)
    set_number(page, "epochs-input", 2)
    page.locator(".config-select select").select_option("fast")
    open_tab(page, "Training")
    cluster_map = page.locator(".cluster-map")
    cluster_map.locator("canvas").first.wait_for()
    page.get_by_text("map: no epoch yet").wait_for()
    blank = canvas_signature(page, "cluster-map")
    page.locator(".start-button button").click()
    _expect()(page.locator(".run-error")).to_be_hidden()  # the last error is cleared
    counter = page.locator(".epoch-counter")
    _expect()(counter).to_contain_text("epoch 1 / 2", timeout=TRAIN_TIMEOUT_MS)
    _snap(page, tmp_path, "04_epoch_1")
    _expect()(counter).to_contain_text("epoch 2 / 2", timeout=TRAIN_TIMEOUT_MS)
    _expect()(page.locator(".run-status")).to_contain_text("finished", timeout=60_000)
    _expect()(page.locator(".shown-epoch")).to_contain_text("map: epoch 2 of 2")
    wait_for(lambda: canvas_signature(page, "cluster-map") not in ("", blank), 60, "the map")
    page.wait_for_timeout(1000)
    assert _colours(cluster_map.screenshot()) >= 6  # K = 6 clusters drawn
    _snap(page, tmp_path, "04_epoch_2")
    SEEN["trained"] = "yes"


def test_epoch_player_replays_an_earlier_epoch(page, tmp_path: Path) -> None:
    _after("trained")
    shown = page.locator(".shown-epoch")
    _expect()(shown).to_contain_text("map: epoch 2 of 2")
    latest = canvas_signature(page, "cluster-map")
    page.locator(".epoch-player button.previous").click()
    _expect()(shown).to_contain_text("map: epoch 1 of 2")
    wait_for(lambda: canvas_signature(page, "cluster-map") != latest, 30, "epoch 1's map")
    _snap(page, tmp_path, "05_replay_epoch_1")
    page.locator(".epoch-player button.last").click()
    _expect()(shown).to_contain_text("map: epoch 2 of 2")


def test_the_moving_embedding_plays_with_the_epoch_player(page, tmp_path: Path) -> None:
    """Under the maps: the fixed sample's frame of the shown epoch, in the map's colours, on
    axes shared by every epoch; the player's previous epoch shows another frame."""
    _after("trained")
    shown = page.locator(".shown-epoch")
    _expect()(shown).to_contain_text("map: epoch 2 of 2")

    def frame_and_points(epoch: int) -> tuple:
        frame = plot_frame(page, f"epoch {epoch}: embedding of 2000 items")
        scatter = [g for g in frame.glyphs if g["type"] == "Scatter" and g["n"] > 0]
        (image,) = [
            g
            for g in plot_frame(page, re.compile(rf"^epoch {epoch}: clusters$")).glyphs
            if g["type"] == "Image"
        ]
        return frame, scatter[0], [c.lower() for c in image["palette"][:6]]

    latest, points, palette = frame_and_points(2)
    assert points["n"] == 2000  # the fixed sample of Salinas-A's 7,138 pixels
    colours = {str(c).lower() for c in points["colours"]}
    assert len(colours) >= 2 and colours <= set(palette), (colours, palette)
    drawn = canvas_signature(page, "moving-embedding")
    assert drawn != ""
    page.locator(".epoch-player button.previous").click()
    _expect()(shown).to_contain_text("map: epoch 1 of 2")
    wait_for(lambda: canvas_signature(page, "moving-embedding") != drawn, 30, "epoch 1's frame")
    earlier, points, palette = frame_and_points(1)
    assert points["n"] == 2000
    assert {str(c).lower() for c in points["colours"]} <= set(palette)
    assert (earlier.x_range, earlier.y_range) == (latest.x_range, latest.y_range)  # same axes
    page.locator(".moving-embedding").scroll_into_view_if_needed()
    _snap(page, tmp_path, "05_moving_embedding_epoch_1", full_page=False)
    page.locator(".epoch-player button.last").click()
    _expect()(shown).to_contain_text("map: epoch 2 of 2")


def test_embedding_tab_computes_and_shows_a_umap(page, tmp_path: Path) -> None:
    _after("trained")
    open_tab(page, "Embedding")
    status = page.locator(".umap-status")
    _expect()(status).to_contain_text("press 'Embed the last run'")
    empty = canvas_signature(page, "embedding-plot")
    set_number(page, "umap-max-points", 1500)  # a quicker UMAP than the default 5000 points
    page.wait_for_timeout(500)
    page.locator(".embed-button button").click()
    _expect()(page.locator(".embed-status")).to_contain_text("items", timeout=120_000)
    done = re.compile(r"UMAP of \d+ items in [\d.]+ s")
    _expect()(status).to_contain_text(done, timeout=UMAP_TIMEOUT_MS)
    print(page.get_by_text(done).inner_text())  # the UMAP's seconds, for `pytest -s`
    wait_for(
        lambda: canvas_signature(page, "embedding-plot") not in ("", empty), 60, "the UMAP plot"
    )
    page.locator(".umap-button button").click()  # nothing changed: no second UMAP
    _expect()(status).to_contain_text("up to date")
    page.wait_for_timeout(1000)
    SEEN["embedding"] = canvas_signature(page, "embedding-plot")
    _snap(page, tmp_path, "06_embedding")


def test_box_on_the_cluster_map_highlights_points_in_the_embedding(page, tmp_path: Path) -> None:
    _after("embedding")
    open_tab(page, "Training")
    cluster_map = page.locator(".cluster-map")
    _expect()(page.locator(".shown-epoch")).to_contain_text("map: epoch 2 of 2")
    wait_for(lambda: canvas_signature(page, "cluster-map") != "", 60, "the map")
    page.wait_for_timeout(1000)
    cluster_map.locator(".bk-tool-icon-box-select").click()
    box = cluster_map.locator("canvas").first.bounding_box()
    assert box is not None
    x, y, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.3 * width, y + 0.3 * height)
    page.mouse.down()
    page.mouse.move(x + 0.5 * width, y + 0.5 * height, steps=5)
    page.mouse.move(x + 0.6 * width, y + 0.6 * height, steps=5)
    page.mouse.up()
    _snap(page, tmp_path, "07_box_on_map")
    open_tab(page, "Embedding")
    status = page.locator(".umap-status")
    _expect()(status).to_contain_text("pixels selected on the map")
    _expect()(status).to_contain_text(re.compile(r"[1-9]\d* of them are embedded \(highlighted\)"))
    wait_for(  # the same UMAP, now with the highlighted points on top
        lambda: canvas_signature(page, "embedding-plot") not in ("", SEEN.get("embedding")),
        60,
        "the highlighted points",
    )
    page.wait_for_timeout(1000)
    _snap(page, tmp_path, "07_highlighted_in_embedding")


# ---------------------------------------------------------------------- defects (own pages)
ASPECT_TOLERANCE = 0.02


def _size(frame) -> tuple[float, float]:
    return (frame.width, frame.height)


def test_maps_keep_the_scene_aspect_after_a_band_change(fresh_page, tmp_path: Path) -> None:
    """Salinas-A is 83 x 86 pixels: every map of it is drawn with square pixels, also after a
    band change redraws the composite (it was squashed to 575 x 400)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    size = map_frame((83, 86))  # as large as fits, one pixel as wide as tall: 435 x 420
    expected = (float(size["frame_width"]), float(size["frame_height"]))
    wait_for(lambda: _size(plot_frame(page, "salinas_a: R/G/B")) == expected, 60, "the composite")
    before = plot_frame(page, "salinas_a: R/G/B")
    truth = plot_frame(page, "salinas_a: ground truth")
    band = plot_frame(page, re.compile(r"^band \d+"))
    for frame in (before, truth, band):
        assert frame.aspect_error < ASPECT_TOLERANCE, frame
    title = before.title
    page.locator(".red-band .noUi-handle").press("ArrowRight")
    wait_for(lambda: plot_frame(page, "salinas_a: R/G/B").title != title, 60, "a new composite")
    page.wait_for_timeout(1500)
    after = plot_frame(page, "salinas_a: R/G/B")
    assert after.aspect_error < ASPECT_TOLERANCE, after
    assert _size(after) == _size(before) == expected  # it shrank to 575 x 400 here
    _snap(page, tmp_path, "defect1_band_change", full_page=False)


def test_overlay_ground_truth_draws_over_the_composite(
    fresh_page, server: DashboardServer, tmp_path: Path
) -> None:
    """The overlay switch redraws the composite with the ground truth on it (it blanked the
    composite: the DynamicMap got an Overlay after an RGB and raised twice in the server)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    page.wait_for_timeout(1000)
    plain = canvas_signature(page, "composite-plot")
    page.locator(".overlay-truth input").check()
    wait_for(lambda: canvas_signature(page, "composite-plot") not in ("", plain), 60, "the overlay")
    page.wait_for_timeout(1000)
    assert canvas_signature(page, "composite-plot") != ""
    assert _colours(page.locator(".composite-plot").screenshot()) > 500
    assert plot_frame(page, "salinas_a: R/G/B").aspect_error < ASPECT_TOLERANCE
    log = server.log_text()
    assert "AssertionError" not in log and "must only contain one type" not in log, log[-3000:]
    _snap(page, tmp_path, "defect2_overlay", full_page=False)
    overlaid = canvas_signature(page, "composite-plot")
    page.locator(".overlay-truth input").uncheck()
    wait_for(
        lambda: canvas_signature(page, "composite-plot") not in ("", overlaid),
        60,
        "the composite without the overlay",
    )


def test_cluster_and_compare_maps_keep_the_scene_aspect(fresh_page, tmp_path: Path) -> None:
    """The Training tab's map and the Compare tab's two maps of the 83 x 86 Salinas-A are drawn
    with square pixels (Compare's were about 420 x 270)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "kmeans", 6)
    _train(page, "kmeans", 4)
    cluster_map = plot_frame(page, EPOCH_1_MAP)
    assert cluster_map.aspect_error < ASPECT_TOLERANCE, cluster_map
    assert plot_frame(page, "salinas_a: ground truth").aspect_error < ASPECT_TOLERANCE
    open_tab(page, "Compare")
    for name in ("1. kmeans on salinas_a (K=6)", "2. kmeans on salinas_a (K=4)"):
        frame = plot_frame(page, name)
        assert frame.aspect_error < ASPECT_TOLERANCE, frame
        assert frame.width > 300 and frame.height > 300, frame  # not a thumbnail either
    _snap(page, tmp_path, "defect1_compare", full_page=False)


def _k_field(page):
    return page.locator(".k-input input")


def test_invalid_numbers_are_refused_with_a_message(fresh_page, tmp_path: Path) -> None:
    """K = 0 (or an empty field, or 0 epochs) is shown as a problem and nothing starts (K = 0
    used to start a run with the previous K); K = 5000 for 6 classes asks to press Start again;
    zero training bands are refused in plain words, once ("failed: failed: ..." before)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    _expect()(_k_field(page)).to_have_value("6")  # a new dataset: K = its number of classes
    status, counter = page.locator(".run-status"), page.locator(".epoch-counter")
    set_number(page, "k-input", 5000)
    page.wait_for_timeout(500)
    page.locator(".start-button button").click()
    warning = page.locator(".run-warning")
    _expect()(warning).to_be_visible()
    _expect()(warning).to_contain_text("K = 5000 is far above the 6 classes of salinas_a")
    _expect()(page.locator(".start-button button")).to_have_text("Start anyway")
    _snap(page, tmp_path, "defect3_absurd_k", full_page=False)
    set_number(page, "k-input", 0)
    set_number(page, "epochs-input", 0)
    page.wait_for_timeout(500)
    page.locator(".start-button button").click()
    problems = page.locator(".input-error")
    _expect()(problems).to_be_visible()
    _expect()(problems).to_contain_text("Clusters (K) = 0 is too small: it must be at least 2.")
    _expect()(problems).to_contain_text("Epochs = 0 is out of range: it must be from 1 to 1000.")
    _expect()(problems).to_contain_text("Nothing was started.")
    _expect()(_k_field(page)).to_have_value("0")  # what was typed stays
    _snap(page, tmp_path, "defect3_invalid_numbers", full_page=False)
    page.wait_for_timeout(1000)
    _expect()(status).to_have_text("idle")
    _expect()(counter).to_have_text("epoch 0 / 0")
    set_number(page, "k-input", 6)
    set_number(page, "epochs-input", 1)
    _expect()(problems).to_be_hidden()
    page.locator(".train-bands").scroll_into_view_if_needed()
    lower = page.locator(".train-bands .noUi-handle-lower").bounding_box()
    upper = page.locator(".train-bands .noUi-handle-upper").bounding_box()
    assert lower is not None and upper is not None
    page.mouse.move(lower["x"] + lower["width"] / 2, lower["y"] + lower["height"] / 2)
    page.mouse.down()  # the lower end dragged onto the upper: 204..204, no band
    page.mouse.move(upper["x"] + upper["width"] + 40, upper["y"] + upper["height"] / 2, steps=8)
    page.mouse.up()
    page.get_by_text("Training bands: none selected (0 of 204)").wait_for()
    page.wait_for_timeout(500)
    page.locator(".start-button button").click()
    reason = (
        "no training bands are selected (0 of the 204 bands of salinas_a): widen "
        "'Training bands' to at least one band"
    )
    _expect()(status).to_have_text(f"failed: {reason}")
    _expect()(page.locator(".run-error")).to_have_text(reason)
    _expect()(counter).to_have_text("epoch 0 / 0")
    _snap(page, tmp_path, "defect3_no_bands", full_page=False)


def test_resume_finishes_the_stopped_run_and_the_form_shows_what_trains(
    fresh_page, tmp_path: Path
) -> None:
    """Resume after a stop trains on to the run's own total (it ran to 3 of 3 after a stop at
    1 of 2); while a run trains its settings are locked, so the sidebar shows what trains."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    page.locator(".method-select select").select_option("sscc")
    set_number(page, "epochs-input", 3)
    page.wait_for_timeout(500)
    page.locator(".start-button button").click()
    status, counter = page.locator(".run-status"), page.locator(".epoch-counter")
    _expect()(status).to_contain_text("running")
    _expect()(page.locator(".dataset-select select")).to_be_disabled()
    _expect()(_k_field(page)).to_be_disabled()
    _expect()(counter).to_contain_text("epoch 1 / 3", timeout=TRAIN_TIMEOUT_MS)
    page.locator(".stop-button button").click()
    _expect()(status).to_contain_text("stopped", timeout=TRAIN_TIMEOUT_MS)
    assert re.fullmatch(r"epoch [12] / 3", deep_text(page, "epoch-counter"))
    _expect()(page.locator(".dataset-select select")).to_be_enabled()
    page.locator(".resume-button button").click()
    _expect()(status).to_contain_text("finished", timeout=TRAIN_TIMEOUT_MS)
    _expect()(counter).to_have_text("epoch 3 / 3")
    _snap(page, tmp_path, "defect4_resumed", full_page=False)


def _glyphs(frame, kind: str) -> list[dict]:
    return [glyph for glyph in frame.glyphs if glyph["type"] == kind]


def test_one_colour_per_cluster_on_the_map_sizes_and_spectra(fresh_page, tmp_path: Path) -> None:
    """Cluster k has one colour on the map, its size bar and its mean spectrum (the map
    coloured clusters by matched class, the bars and spectra by cluster number)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "kmeans", 6)

    def bar_colours() -> list[str]:
        bars = next(g for g in plot_frame(page, "cluster sizes").glyphs if g["colours"])
        return [colour.lower() for colour in bars["colours"]]

    def map_colours() -> list[str]:  # map value k = cluster k
        (image,) = _glyphs(plot_frame(page, EPOCH_1_MAP), "Image")
        return [c.lower() for c in image["palette"][:6]]

    def spectra_colours() -> list[str]:
        lines = _glyphs(plot_frame(page, "mean spectrum per cluster"), "Line")
        return [line["line"].lower() for line in lines]

    # The views update one after another from the server (on a loaded machine the bars of the
    # empty run can still be there after the status says finished): wait for each to show it.
    wait_for(lambda: map_colours() == bar_colours(), 60, "the bars in the map's colours", 0.25)
    by_cluster = bar_colours()
    assert len(by_cluster) == 6 and len(set(by_cluster)) == 6
    wait_for(lambda: spectra_colours() == by_cluster, 60, "the spectra in them", poll=0.25)
    _snap(page, tmp_path, "defect6_colours", full_page=True)


def test_highlights_belong_to_one_run(fresh_page, tmp_path: Path) -> None:
    """Points boxed in the embedding outline their pixels on that run's map, and no later
    run's map (they stayed as white squares on every later map)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "kmeans", 6)

    def bar_colours() -> list[str]:
        return next(g for g in plot_frame(page, "cluster sizes").glyphs if g["colours"])["colours"]

    def map_palette() -> list[str]:
        (image,) = _glyphs(plot_frame(page, EPOCH_1_MAP), "Image")
        return image["palette"]

    # the bars of the run, not the empty ones drawn before its epoch (a loaded machine redraws
    # them after the status line says finished)
    wait_for(lambda: bar_colours() == map_palette(), 60, "the run's bars", poll=0.25)
    bars = {"colours": bar_colours()}
    open_tab(page, "Embedding")
    set_number(page, "umap-max-points", 1000)
    page.wait_for_timeout(500)
    page.locator(".embed-button button").click()
    done = re.compile(r"UMAP of \d+ items in [\d.]+ s")
    _expect()(page.locator(".umap-status")).to_contain_text(done, timeout=UMAP_TIMEOUT_MS)
    wait_for(lambda: canvas_signature(page, "embedding-plot") != "", 60, "the UMAP plot")
    page.wait_for_timeout(1000)
    umap = plot_frame(page, "UMAP of")
    shown = {  # each legend entry's swatch: the colour its points are drawn with
        label: swatch
        for legend in umap.legends
        for label, swatch in zip(legend["labels"], legend["swatches"], strict=True)
        if label != "highlighted"
    }
    assert shown and all(  # the embedding's cluster colours are the map's and the bars'
        str(colour).lower() == bars["colours"][int(name.split()[-1])].lower()
        for name, colour in shown.items()
    ), (shown, bars["colours"])
    canvas = page.locator(".embedding-plot canvas").first
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
    page.mouse.up()
    _expect()(page.locator(".umap-status")).to_contain_text(re.compile(r"[1-9]\d* points selected"))
    open_tab(page, "Training")
    wait_for(
        lambda: sum(g["n"] for g in _glyphs(plot_frame(page, EPOCH_1_MAP), "Scatter")) > 0,
        60,
        "the highlighted pixels on the map",
    )
    _snap(page, tmp_path, "defect5_highlighted", full_page=False)
    _train(page, "kmeans", 5)  # a new run: its map has no highlight
    page.wait_for_timeout(1500)
    frame = plot_frame(page, EPOCH_1_MAP)
    assert sum(g["n"] for g in _glyphs(frame, "Scatter")) == 0, frame.glyphs
    _snap(page, tmp_path, "defect5_new_run", full_page=False)


SIZING_WARNING = re.compile(r"sizing|W-10\d\d|W-\d{4}|\bwidth\b.*\bheight\b", re.IGNORECASE)


def test_a_tour_asks_only_the_local_server_and_logs_no_warning(
    server: DashboardServer, browser, tmp_path: Path
) -> None:
    """Every request of a full tour (load, every tab, the pool preview, two runs, a UMAP, a
    merge, every download, two runs compared, an upload trained on) goes to the dashboard's
    own server (users run offline; the page asked fonts.googleapis.com for a web font), and
    the server logs no warning, error or traceback meanwhile (it logged about 12 Panel sizing
    warnings). Each tab is photographed at 1600 x 1000 on the way."""
    context = browser.new_context(viewport=SHOT_VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_before = len(server.log_text())
    scene_file = tmp_path / "tour_scene.npy"
    cube = np.random.default_rng(1).random((16, 18, 6)).astype(np.float32)
    cube[:, 9:] += 1.0
    np.save(scene_file, cube)
    try:
        page.goto(server.url, timeout=LOAD_TIMEOUT_MS)
        wait_for(lambda: canvas_signature(page, "composite-plot") != "", 180, "the composite")
        _choose_dataset(page, "salinas_a")
        for tab in ("Augmentation pool", "Training", "Embedding", "Compare", "Training"):
            open_tab(page, tab)
            page.wait_for_timeout(1500)
            _snap(page, tmp_path, f"tour_{tab.split()[0].lower()}_empty", full_page=False)
        _train(page, "kmeans", 6)
        _train(page, "sscc", 6, epochs=1)
        _snap(page, tmp_path, "tour_training", full_page=False)

        wait_for(lambda: len(_merge_options(page)) == 6, 30, "six clusters to merge", poll=0.25)
        choice = page.locator(".merge-choice .choices")
        for cluster in (0, 2):
            choice.click()
            page.locator(
                ".merge-choice .choices__item--choice", has_text=f"cluster {cluster} ("
            ).click()
        page.locator(".merge-button button").click()
        _expect()(page.locator(".merge-message")).to_contain_text("5 clusters now")
        for key in ("png", "npy", "json"):
            with page.expect_download(timeout=60_000) as download:
                page.locator(f".download-{key} button").click()
            assert download.value.suggested_filename.endswith(f"merged5.{key}")
            assert Path(download.value.path()).stat().st_size > 0

        open_tab(page, "Embedding")
        set_number(page, "umap-max-points", 1000)
        page.wait_for_timeout(500)
        page.locator(".embed-button button").click()
        done = re.compile(r"UMAP of \d+ items in [\d.]+ s")
        _expect()(page.locator(".umap-status")).to_contain_text(done, timeout=UMAP_TIMEOUT_MS)
        page.wait_for_timeout(1000)
        _snap(page, tmp_path, "tour_embedding", full_page=False)
        for tab in ("Compare", "Scene", "Augmentation pool"):
            open_tab(page, tab)
            page.wait_for_timeout(1500)
            _snap(page, tmp_path, f"tour_{tab.split()[0].lower()}", full_page=False)

        page.locator(".upload-input input[type=file]").set_input_files(str(scene_file))
        _expect()(page.locator(".dataset-select select")).to_have_value("upload: tour_scene.npy")
        open_tab(page, "Training")
        _train(page, "kmeans", 2)
        _snap(page, tmp_path, "tour_end", full_page=False)
    finally:
        context.close()
    origin = f"http://127.0.0.1:{server.port}/"
    foreign = sorted({url for url in requests if not url.startswith((origin, "data:", "blob:"))})
    assert requests and not foreign, foreign
    log = server.log_text()[log_before:]
    problems = [
        line
        for line in log.splitlines()
        if re.search(r"WARNING|ERROR|Traceback|Exception", line) or SIZING_WARNING.search(line)
    ]
    assert not problems, "\n".join(problems)


def test_a_one_epoch_run_draws_points_on_whole_epoch_axes(fresh_page, tmp_path: Path) -> None:
    """A 1-epoch run's metrics are drawn as points (the plot was empty), the epoch axes tick on
    whole epochs only (1.5, 2.5 before), the title fits, and the legends sit beside the curves
    (they were drawn over them)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "sscc", 6, epochs=1)
    found: list = []

    def drawn() -> bool:  # the plot drawn for the run's records (a view may be replaced)
        found[:] = [
            frame
            for frame in plot_frames(page)
            if frame.visible
            and frame.title.startswith("metrics on labelled items")
            and len(_glyphs(frame, "Scatter")) == 4
        ]
        return bool(found)

    wait_for(drawn, 120, "the metrics' points", 0.5)
    metrics = found[0]
    assert metrics.title == "metrics on labelled items"  # the note is a caption below
    points = _glyphs(metrics, "Scatter")
    assert len(points) == 4 and all(glyph["n"] == 1 for glyph in points), metrics.glyphs
    losses = plot_frame(page, "losses by part")
    for frame in (metrics, losses):
        assert frame.x_min_interval == 1, frame
        assert frame.legends and all(legend["side"] == "right" for legend in frame.legends)
    assert sorted(metrics.legends[0]["labels"]) == ["acc", "ari", "kappa", "nmi"]
    page.locator(".metrics-note").scroll_into_view_if_needed()
    _snap(page, tmp_path, "defect8_one_epoch_curves", full_page=False)


def test_digits_pages_speak_of_images_and_class_names(fresh_page, tmp_path: Path) -> None:
    """On digits (8 x 8 images, classes named 0..9): the image mosaics keep square pixels (they
    were drawn 1:2), the spectra place says images have none (it promised spectra), the
    embedding's status points at the button that computes it and its classes are named 0..9
    (they read "class 1..10")."""
    page = fresh_page
    _choose_dataset(page, "digits")
    _expect()(_k_field(page)).to_have_value("10")
    open_tab(page, "Training")
    _train(page, "kmeans", 10)
    grid = plot_frame(page, "epoch 1: sample images per cluster")
    truth = plot_frame(page, "sample images per class")
    for frame in (grid, truth):
        assert frame.aspect_error < ASPECT_TOLERANCE, frame
    assert grid.box is not None and truth.box is not None
    assert grid.box["right"] <= truth.box["left"] + 1, (grid.box, truth.box)  # side by side
    _expect()(page.locator(".spectra-note")).to_have_text(
        "Images have no spectra: the sample images per cluster above show each cluster."
    )
    _snap(page, tmp_path, "defect8_digits_training", full_page=False)
    open_tab(page, "Embedding")
    status = page.locator(".umap-status")
    _expect()(status).to_have_text(
        "No features yet: press 'Embed the last run' (it computes the UMAP too)."
    )
    set_number(page, "umap-max-points", 600)
    page.wait_for_timeout(500)
    page.locator(".embed-button button").click()
    done = re.compile(r"UMAP of \d+ items in [\d.]+ s")
    _expect()(status).to_contain_text(done, timeout=UMAP_TIMEOUT_MS)
    page.get_by_role("button", name="class", exact=True).click()
    wait_for(lambda: "class" in plot_frame(page, "UMAP of").title, 60, "colouring by class")
    page.wait_for_timeout(1000)
    labels = [label for legend in plot_frame(page, "UMAP of").legends for label in legend["labels"]]
    assert sorted(label for label in labels if label != "highlighted") == [
        str(digit) for digit in range(10)
    ], labels
    _snap(page, tmp_path, "defect8_digits_embedding", full_page=False)


def test_augmentation_preview_fits_and_a_refused_value_reverts(fresh_page, tmp_path: Path) -> None:
    """Every view of the preview is inside its plot and the page (views 4-9 were cut off with
    no scroll bar, even at 2400 px); a refused value goes back to the last valid one in its
    field, with the alert saying what was typed (it stayed typed)."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Augmentation pool")
    for width in (1600, 2400):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(1500)
        mosaic = plot_frame(page, "original, then views 1..8")
        spectra = plot_frame(page, "centre pixel spectrum")
        for frame in (mosaic, spectra):
            assert frame.frame_inside, frame
            assert frame.box is not None and frame.box["right"] <= width, frame
        assert mosaic.aspect_error < ASPECT_TOLERANCE, mosaic
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.set_viewport_size(SHOT_VIEWPORT)
    page.wait_for_timeout(1000)
    _snap(page, tmp_path, "defect7_preview", full_page=False)
    field = page.locator(".pool-param-1-p input")
    _expect()(field).to_have_value("1")
    field.fill("1.5")
    field.press("Enter")
    alert = page.get_by_text("You typed 1.5; the field shows the last valid value, 1.0, again.")
    _expect()(alert).to_be_visible()
    _expect()(field).to_have_value("1")
    _snap(page, tmp_path, "defect7_refused_value", full_page=False)


def test_a_training_pair_is_shown_side_by_side(fresh_page, tmp_path: Path) -> None:
    """Below the preview, one training pair (pixel, view 1, partner, view 2) in one plot inside
    the page, square tiles, and the sentence naming the partner pixel's window."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Augmentation pool")
    page.locator(".pair-plot").scroll_into_view_if_needed()
    pair = plot_frame(page, "a training pair")
    assert pair.frame_inside and pair.box is not None, pair
    assert pair.box["right"] <= VIEWPORT["width"], pair
    print(pair.x_range, pair.y_range, pair.width, pair.height)
    _snap(page, tmp_path, "teach_training_pair", full_page=False)
    assert pair.aspect_error < ASPECT_TOLERANCE, pair
    note = page.locator(".pair-note")
    _expect()(note).to_contain_text("drawn from the 5 x 5 window around it")
    _snap(page, tmp_path, "teach_training_pair", full_page=False)


# ---------------------------------------------------------------------- the page explains itself
def test_start_here_and_the_method_summary_follow_the_method(fresh_page, tmp_path: Path) -> None:
    """A "Start here" line tops the page; below the method selector the registry's sentence on
    the selected method, replaced when another method is selected."""
    page = fresh_page
    _expect()(page.locator(".start-here")).to_contain_text("Start here:")
    summary = page.locator(".method-summary")
    _expect()(summary).to_have_text(METHODS["sscc"].summary)
    page.locator(".method-select select").select_option("kmeans")
    _expect()(summary).to_have_text(METHODS["kmeans"].summary)
    page.locator(".method-select select").select_option("cc")
    _expect()(summary).to_have_text(METHODS["cc"].summary)


def test_a_run_explains_its_losses_marks_the_shown_epoch_and_tables_clusters_vs_classes(
    fresh_page, tmp_path: Path
) -> None:
    """After a 2-epoch SSCC run on Salinas-A: one line per logged loss term below the loss
    curves; a marker at the epoch the player shows on the loss and metric curves, which moves
    back with the player; the clusters vs classes table is K = 8 clusters x 6 classes."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "sscc", 8, epochs=2)
    terms = page.locator(".loss-terms")
    for term in ("loss", "on_diagonal", "off_diagonal"):
        _expect()(terms).to_contain_text(f"{term}: {describe_loss_term(term)}")

    def marked(epoch: int) -> bool:
        plots = [plot_frame(page, "losses by part"), plot_frame(page, "metrics on labelled")]
        return all(frame.spans == [epoch] for frame in plots)

    wait_for(lambda: marked(2), 60, "the marker at epoch 2", 0.2)
    page.locator(".epoch-player button.previous").click()
    _expect()(page.locator(".shown-epoch")).to_contain_text("map: epoch 1 of 2")
    wait_for(lambda: marked(1), 60, "the marker at epoch 1", 0.2)
    table = plot_frame(page, "epoch 1: clusters vs classes")
    assert table.x_range == (0, 6) and table.y_range in ((0, 8), (8, 0)), table
    assert [glyph["n"] for glyph in _glyphs(table, "Rect")] == [8 * 6], table.glyphs
    page.locator(".loss-terms").scroll_into_view_if_needed()
    _snap(page, tmp_path, "teach_training_curves", full_page=False)
    page.locator(".confusion-matrix").scroll_into_view_if_needed()
    _snap(page, tmp_path, "teach_training_table", full_page=False)


def test_pool_cards_say_what_each_operation_does(fresh_page, tmp_path: Path) -> None:
    """Each card of the augmentation pool editor carries its operation's sentence."""
    page = fresh_page
    open_tab(page, "Augmentation pool")
    for where, name in (("1", "random_resized_crop"), ("3-3", "band_mask")):
        note = page.locator(f".pool-note-{where}")
        _expect()(note).to_have_text(describe_operation(name).replace("`", ""))  # `p`: code
        _expect()(note).to_be_visible()
    page.wait_for_timeout(1000)
    _snap(page, tmp_path, "teach_pool", full_page=False)


def _download_npy(page) -> str:
    """The shown epoch's labels, downloaded with the Training tab's .npy button (a path)."""
    with page.expect_download(timeout=60_000) as download:
        page.locator(".download-npy button").click()
    return download.value.path()


def _merge_options(page) -> dict[int, int]:
    """Cluster number -> size, as the merge choice lists the shown run's clusters."""
    items = page.locator(".merge-choice .choices__list--dropdown .choices__item--choice")
    found = {}
    for text in items.all_text_contents():
        match = re.search(r"cluster (\d+) \((\d+) items\)", text)
        if match:
            found[int(match.group(1))] = int(match.group(2))
    return found


def test_merging_two_clusters_and_downloading_the_labels(fresh_page, tmp_path: Path) -> None:
    """Merge two clusters of a k-means run, one picked in the list and one by clicking a pixel
    of it on the map: the map has one cluster less, the size bars one bar less (the merged one
    the sum of both); the .npy download is the merged map."""
    page = fresh_page
    _choose_dataset(page, "salinas_a")
    open_tab(page, "Training")
    _train(page, "kmeans", 6)

    def map_values() -> int:
        (image,) = _glyphs(plot_frame(page, EPOCH_1_MAP), "Image")
        return len(image["palette"])

    def bars() -> int:
        return len(
            next(g for g in plot_frame(page, "cluster sizes").glyphs if g["colours"])["colours"]
        )

    wait_for(lambda: map_values() == 6 and bars() == 6, 30, "the map of 6 clusters", poll=0.25)
    wait_for(lambda: len(_merge_options(page)) == 6, 30, "six clusters to merge", poll=0.25)
    sizes = _merge_options(page)
    choice = page.locator(".merge-choice .choices")
    choice.click()
    page.locator(".merge-choice .choices__item--choice", has_text="cluster 1 (").click()
    # the second cluster picked by clicking one of its pixels on the map
    trained = np.load(_download_npy(page), allow_pickle=False)
    row, col = map(int, np.argwhere(trained == 4)[len(np.argwhere(trained == 4)) // 2])
    page.keyboard.press("Escape")  # close the choice's list
    cluster_map = plot_frame(page, EPOCH_1_MAP)
    page.mouse.click(*cluster_map.page_point(col + 0.5, trained.shape[0] - row - 0.5))
    _expect()(page.locator(".merge-message")).to_contain_text("Picked cluster 4 (")
    _expect()(page.locator(".merge-choice")).to_contain_text("cluster 4 (")
    _snap(page, tmp_path, "merge_chosen", full_page=False)
    page.locator(".merge-button button").click()
    _expect()(page.locator(".merge-message")).to_contain_text(
        "Merged clusters 1, 4 into cluster 1: 5 clusters now"
    )
    wait_for(lambda: map_values() == 5 and bars() == 5, 30, "the map of 5 clusters", poll=0.25)
    wait_for(lambda: len(_merge_options(page)) == 5, 30, "five clusters to merge", poll=0.25)
    merged = _merge_options(page)
    assert merged[1] == sizes[1] + sizes[4]
    assert [merged[k] for k in (0, 2, 3, 4)] == [sizes[k] for k in (0, 2, 3, 5)]
    _expect()(page.locator(".shown-epoch")).to_contain_text("5 clusters after merges")
    _snap(page, tmp_path, "merge_export", full_page=False)
    page.locator(".confusion-matrix").scroll_into_view_if_needed()
    _snap(page, tmp_path, "merge_export_below", full_page=False)

    with page.expect_download(timeout=60_000) as download:
        page.locator(".download-npy button").click()
    assert download.value.suggested_filename == "salinas_a_kmeans_K6_seed0_epoch1_merged5.npy"
    labels = np.load(download.value.path(), allow_pickle=False)
    assert labels[row, col] == 1  # the clicked pixel's cluster went into cluster 1
    assert labels.shape == (83, 86)
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2, 3, 4]
    assert np.bincount(labels.ravel()).tolist() == [merged[k] for k in range(5)]
    assert "GeoTIFF: salinas_a has no georeference" in deep_text(page, "export-note")


def test_an_uploaded_scene_is_offered_and_trains_and_a_broken_file_is_refused(
    fresh_page, server: DashboardServer, tmp_path: Path
) -> None:
    """The sidebar's upload: a truncated file gives a visible one-line alert and the dataset
    stays; a small .npy scene becomes "upload: <name>", shown in the Scene tab, and k-means
    trains on it."""
    page = fresh_page
    rng = np.random.default_rng(0)
    cube = 0.1 * rng.random((24, 20, 8)).astype(np.float32)
    cube[:, :10] += np.linspace(0.2, 0.8, 8, dtype=np.float32)  # two fields, two spectra
    cube[12:, 10:] += np.linspace(0.9, 0.1, 8, dtype=np.float32)
    good = tmp_path / "my_scene.npy"
    np.save(good, cube)
    broken = tmp_path / "broken.npy"
    broken.write_bytes(good.read_bytes()[:100])
    file_input = page.locator(".upload-input input[type=file]")
    select = page.locator(".dataset-select select")
    before = select.input_value()
    file_input.set_input_files(str(broken))
    alert = page.locator(".upload-error")
    _expect()(alert).to_be_visible()
    _expect()(alert).to_contain_text("broken.npy")
    _expect()(select).to_have_value(before)
    page.locator(".upload-error").scroll_into_view_if_needed()
    _snap(page, tmp_path, "upload_refused", full_page=False)
    file_input.set_input_files(str(good))
    _expect()(select).to_have_value("upload: my_scene.npy")
    _expect()(alert).to_be_hidden()
    _expect()(page.locator(".upload-status")).to_contain_text("Loaded my_scene.npy")
    page.get_by_text("Training bands: 0..7 (8 of 8)").wait_for()
    plot_frame(page, "my_scene: ground truth (none)")  # no labels: an empty map, no error
    composite = plot_frame(page, "my_scene: R/G/B")
    expected = map_frame(cube.shape)
    wait_for(
        lambda: abs(_size(plot_frame(page, "my_scene: R/G/B"))[0] - expected["frame_width"]) < 2,
        60,
        "the composite in the scene's frame",
    )
    composite = plot_frame(page, "my_scene: R/G/B")
    assert abs(_size(composite)[1] - expected["frame_height"]) < 2
    page.wait_for_timeout(1000)
    page.locator(".upload-status").scroll_into_view_if_needed()
    _snap(page, tmp_path, "upload_accepted", full_page=False)
    _train(page, "kmeans", 3)
    _expect()(page.locator(".run-status")).to_contain_text("kmeans on my_scene")
    assert server.alive() and server.answers()
