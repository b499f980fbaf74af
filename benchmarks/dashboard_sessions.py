"""Benchmark: three browser sessions training at once on one served dashboard, and the server's
memory before, during and after them.

Serves `apps/hsi_dashboard.py` with `panel serve` (closed pages' sessions destroyed after 5 s
instead of 15-32 s) and drives headless Chromium (`EXPLORE_CHROMIUM`, default
/usr/bin/chromium) with Playwright: one browser context per session. Stages, with the server
process's resident memory (VmRSS) at each:

- started: the server answers HTTP;
- warm: a first page was loaded on the default scene, trained a 1-epoch SSCC run on the
  benchmark's scene, and was closed; its session has ended. Imports (torch, the methods, Bokeh
  models), the dataset cache (`load_cached`) and torch's thread pools are in the server now,
  once per process, so this is the level the sessions are compared with;
- peak: the largest value sampled while the three pages trained (`CONCURRENT_RUNS`: sscc, cc
  and s3ocnet on Salinas-A, fast config, different K and epochs; the cc page is closed after
  its first epoch of 200);
- after: all three pages closed and their sessions ended (the server logs each end); then the
  cores the server keeps busy over 3 s (no training thread left: near 0).

The three sessions run `--rounds` times (default 2) on each server: memory that sessions
leave behind would grow from one round to the next. Prints a markdown table per repeat (a fresh
server): RSS at each stage in MiB, seconds each session took (Start to finished, or to its page
closing) and the epochs the closed session had done.

    python benchmarks/dashboard_sessions.py
    python benchmarks/dashboard_sessions.py --repeats 3 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from common import machine_line, markdown_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the browser harness
from browser_harness import (  # noqa: E402
    CONCURRENT_RUNS,
    SHORT_SESSION_LIFETIME,
    WARM_UP_RUN,
    DashboardServer,
    browser_problem,
    concurrent_sessions,
    launch_chromium,
    server_env,
    warm_up,
)


def measure_once(folder: Path, rounds: int) -> list[dict[str, str]]:
    """One server: RSS at each stage, the sessions' seconds; rows of the table."""
    from playwright.sync_api import sync_playwright

    server = DashboardServer(
        env=server_env(cache_dir=folder / "cache"),
        log_path=folder / "panel_serve.log",
        extra_args=SHORT_SESSION_LIFETIME,
    )
    results = []
    try:
        server.start()
        server.wait_until_serving(timeout=300)
        started = server.rss_mib()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            loaded = warm_up(server, browser)
            warm = warm_up(server, browser, WARM_UP_RUN)
            for _ in range(rounds):
                results.append(concurrent_sessions(server, browser, CONCURRENT_RUNS))
            browser.close()
    finally:
        server.stop()
    rows = [
        {"stage": "server started", "RSS MiB": f"{started:.0f}", "notes": ""},
        {"stage": "first page loaded and closed", "RSS MiB": f"{loaded:.0f}", "notes": ""},
        {
            "stage": "warm: a 1-epoch run trained, page closed",
            "RSS MiB": f"{warm:.0f}",
            "notes": "the baseline",
        },
    ]
    for number, (outcomes, rss) in enumerate(results, start=1):
        label = f" (round {number})" if rounds > 1 else ""
        rows.append(
            {
                "stage": f"peak during the three sessions{label}",
                "RSS MiB": f"{rss['peak']:.0f}",
                "notes": f"+{rss['peak'] - warm:.0f} over warm",
            }
        )
        rows.append(
            {
                "stage": f"after the three pages closed, sessions ended{label}",
                "RSS MiB": f"{rss['after']:.0f}",
                "notes": f"{rss['after'] - warm:+.0f} over warm; then {rss['idle_cpu']:.2f} "
                "cores busy",
            }
        )
        for outcome in outcomes:
            plan = outcome.plan
            what = (
                f"closed after {outcome.epochs_done} of {plan.epochs} epochs"
                if outcome.closed_early
                else f"finished {plan.epochs} epochs"
            )
            rows.append(
                {
                    "stage": f"session{label}: {plan.run_name}",
                    "RSS MiB": "",
                    "notes": f"{outcome.seconds:.1f} s, {what}",
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="fresh servers measured")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of three sessions on each server"
    )
    args = parser.parse_args(argv)
    problem = browser_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="dashboard-sessions-"))
    tables = []
    for repeat in range(args.repeats):
        run_folder = folder / f"run{repeat}"
        run_folder.mkdir()
        tables.append(markdown_table(measure_once(run_folder, args.rounds)))
    print(machine_line() + f", load average {os.getloadavg()[0]:.1f} at the end")
    for repeat, table in enumerate(tables, start=1):
        print(f"\nrun {repeat} of {len(tables)}\n")
        print(table)
    print(f"\nserver logs in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
