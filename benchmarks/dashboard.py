"""Benchmark: how quickly the dashboard answers in a real browser.

Serves `apps/hsi_dashboard.py` with `panel serve` (a subprocess) and drives headless Chromium
(`EXPLORE_CHROMIUM`, default /usr/bin/chromium) with Playwright; every time is measured in the
page, by polling the text and canvas pixels of the plots (Panel renders into shadow DOM; see
`tests/browser_harness.py`). Prints a markdown table:

- start: seconds from `panel serve` start to the first composite drawn in Chromium (the embedded
  Indian Pines scene), and to the first HTTP answer;
- epoch updates during a short SSCC run (default Salinas-A, K 6, fast config): seconds between
  successive cluster-map redraws seen in the page, the trainer's own seconds per epoch (from the
  page's metrics table) and the delay from the epoch label changing to the map being redrawn;
- the cadence of the map while an epoch runs longer than 2 s (default CC on Indian Pines): seconds
  between redraws of the cluster map, provisional maps included (target <= 2 s);
- round trip of a band picker (one arrow-key step on the red band slider) until the composite's
  pixels change, with the server idle and while a training thread runs (target < 0.5 s).

    python benchmarks/dashboard.py
    python benchmarks/dashboard.py --epochs 5 --presses 8
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import machine_line, markdown_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the browser harness
from browser_harness import (  # noqa: E402
    VIEWPORT,
    DashboardServer,
    browser_problem,
    canvas_signature,
    choose_dataset,
    deep_text,
    launch_chromium,
    open_tab,
    set_number,
    table_rows,
    wait_for,
)

REPO = Path(__file__).resolve().parents[1]


def measure_start(page: Any, server: DashboardServer) -> dict[str, float]:
    """Seconds from `panel serve` start to an HTTP answer and to the composite drawn."""
    server.start()
    serving = server.wait_until_serving(timeout=300)
    page.goto(server.url, timeout=300_000)
    drawn = wait_for(lambda: canvas_signature(page, "composite-plot") != "", 300, "the composite")
    return {"serving": serving, "composite": drawn - server.started}


def band_round_trips(page: Any, presses: int) -> list[float]:
    """Seconds from a red-band arrow key press to a change of the composite's pixels."""
    handle = page.locator(".red-band .noUi-handle")
    times = []
    for press in range(presses):
        before = canvas_signature(page, "composite-plot")
        key = "ArrowRight" if press % 2 == 0 else "ArrowLeft"
        started = time.perf_counter()
        handle.press(key)
        changed = wait_for(
            lambda before=before: canvas_signature(page, "composite-plot") not in ("", before),
            60,
            "the composite to change",
            poll=0.005,
        )
        times.append(changed - started)
        page.wait_for_timeout(700)
    return times


def epoch_updates(page: Any, dataset: str, k: int, epochs: int) -> dict[str, list[float]]:
    """Run SSCC in the page and time the cluster map's redraws, epoch by epoch."""
    choose_dataset(page, dataset)
    page.locator(".method-select select").select_option("sscc")
    page.locator(".config-select select").select_option("fast")
    set_number(page, "k-input", k)
    set_number(page, "epochs-input", epochs)
    open_tab(page, "Training")
    page.get_by_text("map: no epoch yet").wait_for(timeout=120_000)
    wait_for(lambda: canvas_signature(page, "cluster-map") != "", 120, "the empty map")
    page.wait_for_timeout(1000)
    page.locator(".start-button button").click()
    label_times: dict[int, float] = {}
    map_times: dict[int, float] = {}
    signature = canvas_signature(page, "cluster-map")
    deadline = time.monotonic() + 120 + 300 * epochs
    while len(map_times) < epochs and time.monotonic() < deadline:
        now = time.perf_counter()
        label = deep_text(page, "shown-epoch")
        current = canvas_signature(page, "cluster-map")
        match = re.search(r"epoch (\d+) of", label)
        shown = int(match.group(1)) if match else 0
        if shown and shown not in label_times:
            label_times[shown] = now
        if shown and shown not in map_times and current not in ("", signature):
            map_times[shown] = now
        signature = current or signature
        time.sleep(0.02)
    if len(map_times) < epochs:
        raise TimeoutError(f"only {len(map_times)} of {epochs} epochs reached the page")
    page.locator(".run-status").get_by_text("finished").wait_for(timeout=120_000)
    seconds = table_seconds(deep_text(page, "metrics-table"))
    ordered = [map_times[e] for e in sorted(map_times)]
    return {
        "intervals": [b - a for a, b in zip(ordered, ordered[1:], strict=False)],
        "epoch_seconds": seconds,
        "label_to_map": [map_times[e] - label_times[e] for e in sorted(map_times)],
    }


def live_cadence(
    page: Any, dataset: str, method: str, k: int, seconds: float
) -> dict[str, list[float]]:
    """Start `method` on `dataset` (fast config, many epochs) and watch the cluster map for
    `seconds` once its first epoch has begun: the seconds between successive redraws of the
    map in the page (provisional maps during an epoch and each epoch's map), and the trainer's
    seconds per epoch seen meanwhile. The run is stopped afterwards."""
    choose_dataset(page, dataset)
    page.locator(".method-select select").select_option(method)
    page.locator(".config-select select").select_option("fast")
    set_number(page, "k-input", k)
    set_number(page, "epochs-input", 200)
    open_tab(page, "Training")
    wait_for(lambda: canvas_signature(page, "cluster-map") != "", 120, "the empty map")
    page.wait_for_timeout(1000)
    empty = canvas_signature(page, "cluster-map")
    page.locator(".start-button button").click()
    page.locator(".run-status").get_by_text("running").wait_for(timeout=120_000)
    first = lambda: canvas_signature(page, "cluster-map") not in ("", empty)  # noqa: E731
    wait_for(first, 600, "the run's first map", 0.02)
    signature = canvas_signature(page, "cluster-map")
    changes = [time.perf_counter()]
    deadline = changes[0] + seconds
    while time.perf_counter() < deadline:
        current = canvas_signature(page, "cluster-map")
        if current not in ("", signature):
            changes.append(time.perf_counter())
            signature = current
        time.sleep(0.02)
    epoch_seconds = table_seconds(deep_text(page, "metrics-table"))
    page.locator(".stop-button button").click()
    page.locator(".run-status").get_by_text("stopped").wait_for(timeout=120_000)
    return {
        "intervals": [b - a for a, b in zip(changes, changes[1:], strict=False)],
        "epoch_seconds": epoch_seconds,
    }


def table_seconds(text: str) -> list[float]:
    """The 'seconds' column of the metrics table's text ("epoch seconds acc ... 1 12.3 ...")."""
    return [float(row[1]) for row in table_rows(text)]


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="salinas_a")
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the timed SSCC run")
    parser.add_argument("--presses", type=int, default=6, help="band changes per condition")
    parser.add_argument("--live-dataset", default="indian_pines", help="scene of the cadence run")
    parser.add_argument("--live-method", default="cc", help="a method with long epochs there")
    parser.add_argument("--live-k", type=int, default=16)
    parser.add_argument("--live-seconds", type=float, default=40.0, help="how long to watch")
    args = parser.parse_args(argv)

    problem = browser_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp(prefix="dashboard-bench-")) / "panel_serve.log"
    env = {"PYTHONUNBUFFERED": "1"}
    if "EXPLORE_DATA_DIR" not in os.environ:
        env["EXPLORE_DATA_DIR"] = str(REPO.parent / "shared" / "data")
    server = DashboardServer(env=env, log_path=log)
    rows: list[dict[str, str]] = []
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)  # started first: its start-up is not timed
            page = browser.new_page(viewport=VIEWPORT)
            start = measure_start(page, server)
            rows.append(
                {
                    "measure": "`panel serve` start -> first composite drawn in Chromium "
                    "(Indian Pines)",
                    "seconds": f"{start['composite']:.1f}",
                    "notes": f"HTTP answers after {start['serving']:.1f} s",
                }
            )
            page.wait_for_timeout(2000)
            idle = band_round_trips(page, args.presses)
            updates = epoch_updates(page, args.dataset, args.k, args.epochs)
            rows.append(
                {
                    "measure": f"cluster-map redraws in the page during SSCC ({args.dataset}, "
                    f"K {args.k}, fast, {args.epochs} epochs): seconds between updates",
                    "seconds": summary(updates["intervals"]),
                    "notes": "trainer's seconds per epoch: " + summary(updates["epoch_seconds"]),
                }
            )
            rows.append(
                {
                    "measure": "epoch label changed -> map redrawn in the page",
                    "seconds": summary(updates["label_to_map"]),
                    "notes": "rendering the new map and sending it",
                }
            )
            # A longer run keeps the training thread busy while the band picker moves.
            set_number(page, "epochs-input", 200)
            page.locator(".start-button button").click()
            page.locator(".run-status").get_by_text("running").wait_for(timeout=60_000)
            open_tab(page, "Scene")
            wait_for(lambda: canvas_signature(page, "composite-plot") != "", 120, "composite")
            page.wait_for_timeout(3000)  # past the run's set-up, into its epochs
            busy = band_round_trips(page, args.presses)
            page.locator(".stop-button button").click()
            rows.append(
                {
                    "measure": "band picker step -> composite redrawn, server idle",
                    "seconds": summary(idle),
                    "notes": f"{len(idle)} steps",
                }
            )
            rows.append(
                {
                    "measure": "band picker step -> composite redrawn, training thread running",
                    "seconds": summary(busy),
                    "notes": f"{len(busy)} steps; target < 0.5 s",
                }
            )
            page.locator(".run-status").get_by_text("stopped").wait_for(timeout=120_000)
            cadence = live_cadence(
                page, args.live_dataset, args.live_method, args.live_k, args.live_seconds
            )
            rows.append(
                {
                    "measure": f"cluster-map redraws while {args.live_method} trains on "
                    f"{args.live_dataset} (K {args.live_k}, fast; provisional maps during an "
                    f"epoch), {args.live_seconds:.0f} s watched: seconds between updates",
                    "seconds": summary(cadence["intervals"]),
                    "notes": "trainer's seconds per epoch: "
                    + summary(cadence["epoch_seconds"])
                    + "; target: at most 2 s between updates",
                }
            )
            browser.close()
    finally:
        server.stop()
    print(machine_line() + f", load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
