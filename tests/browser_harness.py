"""Serve the dashboard with `panel serve` in a subprocess and look at it in headless Chromium:
shared by the browser tests (tests/test_dashboard_browser.py, tests/test_dashboard_sessions.py)
and the benchmarks (benchmarks/dashboard.py, benchmarks/dashboard_sessions.py).

Chromium is the system's (Debian's `chromium`, or `EXPLORE_CHROMIUM`), driven by Playwright
(imported lazily: a test dependency); nothing is downloaded. Panel renders into shadow DOM, so
pages are searched with Playwright locators or with the shadow-DOM walks below, never with
`page.inner_text("body")`.

The server's resident memory and CPU time are read from /proc (Linux): `server_rss_mib`,
`cpu_seconds`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "apps" / "hsi_dashboard.py"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1200}

# A signature of the pixels of every canvas inside the elements with a CSS class (searched
# through shadow roots): it changes when Bokeh redraws the plot there. "" when nothing is drawn.
CANVAS_SIGNATURE_JS = """
(cssClass) => {
  const canvases = [];
  function walk(node, inside) {
    const kids = node.shadowRoot ? [...node.shadowRoot.children, ...node.children]
                                 : [...node.children];
    for (const kid of kids) {
      const mine = inside || (kid.classList && kid.classList.contains(cssClass));
      if (mine && kid.tagName === 'CANVAS' && kid.width > 0 && kid.height > 0) canvases.push(kid);
      walk(kid, mine);
    }
  }
  walk(document.body, false);
  let hash = 2166136261 >>> 0;
  let painted = 0;
  for (const canvas of canvases) {
    const context = canvas.getContext('2d');
    if (!context) continue;
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 28) {
      const pixel = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      hash = Math.imul(hash ^ pixel, 16777619) >>> 0;
      if (data[i + 3] !== 0) painted += 1;
    }
  }
  return painted ? `${canvases.length}:${painted}:${hash}` : '';
}
"""

# The text of the elements with a CSS class, shadow roots included (`inner_text` stops at them).
DEEP_TEXT_JS = """
(cssClass) => {
  const parts = [];
  function text(node) {
    if (node.nodeType === Node.TEXT_NODE) { parts.push(node.textContent); return; }
    if (node.tagName === 'STYLE' || node.tagName === 'SCRIPT') return;
    if (node.shadowRoot) for (const kid of node.shadowRoot.childNodes) text(kid);
    for (const kid of node.childNodes) text(kid);
  }
  function walk(node) {
    const kids = node.shadowRoot ? [...node.shadowRoot.children, ...node.children]
                                 : [...node.children];
    for (const kid of kids) {
      if (kid.classList && kid.classList.contains(cssClass)) text(kid); else walk(kid);
    }
  }
  walk(document.body);
  return parts.join(' ').replace(/\\s+/g, ' ').trim();
}
"""

# Every Bokeh plot drawn in the page: its title, the size of its frame (the data area, in CSS
# pixels), its x / y ranges, its glyphs (type, constant fill / line colour, points, colour
# mapper palette, a 'colour' column), its legends (side, labels, each label's swatch colour)
# and the smallest interval between the x axis's ticks, read from BokehJS's views.
PLOT_FRAMES_JS = """
() => {
  const out = [];
  const seen = new Set();
  // The fill colour a renderer draws its i-th point with: a constant, a colour column, or a
  // column of categories drawn through a factor colour map.
  function fillAt(renderer, i) {
    const glyph = renderer.glyph, source = renderer.data_source;
    const spec = glyph ? glyph.fill_color : null;
    if (typeof spec === 'string') return spec;
    if (!spec) return null;
    if (typeof spec.value === 'string') return spec.value;
    const column = spec.field && source && source.data ? source.data[spec.field] : null;
    if (!column || i < 0 || i >= column.length) return null;
    const map = spec.transform;
    if (map && map.factors && map.palette) {
      return map.palette[[...map.factors].indexOf(column[i])] ?? null;
    }
    return String(column[i]);
  }
  function visit(view) {
    if (!view || seen.has(view)) return;
    seen.add(view);
    const model = view.model;
    if (view.frame && view.frame.bbox && model && model.x_range && model.y_range) {
      const box = view.frame.bbox;
      out.push({
        title: model.title && model.title.text !== undefined ? model.title.text : '',
        width: box.width, height: box.height, frame_left: box.left, frame_top: box.top,
        x0: model.x_range.start, x1: model.x_range.end,
        y0: model.y_range.start, y1: model.y_range.end,
        visible: view.el ? view.el.isConnected && view.el.offsetParent !== null : false,
        box: view.el ? (({left, top, right, bottom}) => ({left, top, right, bottom}))(
          view.el.getBoundingClientRect()) : null,
        frame_inside: view.el ? box.left >= 0 && box.top >= 0
          && box.right <= view.el.getBoundingClientRect().width + 0.5
          && box.bottom <= view.el.getBoundingClientRect().height + 0.5 : false,
        glyphs: (model.renderers || []).filter((r) => r.glyph).map((r) => {
          const glyph = r.glyph, source = r.data_source;
          const constant = (name) => {
            const spec = glyph[name];
            return typeof spec === 'string' ? spec : (spec && typeof spec.value === 'string'
              ? spec.value : null);
          };
          const mapper = glyph.color_mapper;
          const fillSpec = glyph.fill_color;
          let fillColumn = fillSpec && fillSpec.field && source && source.data
            ? [...source.data[fillSpec.field]] : null;
          const colourMap = fillSpec && fillSpec.transform;
          if (fillColumn && colourMap && colourMap.factors && colourMap.palette) {
            const factors = [...colourMap.factors];  // categories drawn through a colour map
            fillColumn = fillColumn.map((value) => colourMap.palette[factors.indexOf(value)]);
          }
          const column = source && source.data && source.data.colour;
          return {
            type: glyph.type, fill: constant('fill_color'), line: constant('line_color'),
            n: source && source.get_length ? (source.get_length() || 0) : 0,
            palette: mapper ? [...mapper.palette] : null,
            colours: column ? [...column] : (fillColumn ? fillColumn.map(String) : null),
            visible: r.visible,
          };
        }),
        spans: (model.renderers || []).filter((r) => r.type === 'Span').map((r) => r.location),
        legends: ['center', 'left', 'right', 'above', 'below'].flatMap((side) =>
          (model[side] || []).filter((m) => m.type === 'Legend').map((legend) => {
            const labels = [], swatches = [];
            for (const item of legend.items) {
              const label = item.label;
              const renderer = item.renderers.length ? item.renderers[0] : null;
              if (label && label.field !== undefined) {  // one entry per value of a column
                const source = renderer ? renderer.data_source : null;
                const column = source && source.data ? source.data[label.field] : null;
                const values = column ? [...column].map(String) : [];
                for (const value of new Set(values)) {  // swatch: the first such point's fill
                  labels.push(value);
                  swatches.push(fillAt(renderer, values.indexOf(value)));
                }
              } else {
                labels.push(label && label.value !== undefined ? String(label.value)
                  : String(label));
                swatches.push(renderer ? fillAt(renderer, 0) : null);
              }
            }
            return {side, labels, swatches};
          })),
        x_min_interval: (model.below || []).filter((m) => m.ticker)
          .map((axis) => axis.ticker.min_interval)[0] ?? null,
      });
    }
    for (const kid of (view.child_views || [])) visit(kid);
  }
  const roots = Bokeh.index.roots || Object.values(Bokeh.index);
  for (const root of roots) visit(root);
  return out;
}
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str:
    """The Chromium to drive: `EXPLORE_CHROMIUM`, else Debian's /usr/bin/chromium."""
    return os.environ.get("EXPLORE_CHROMIUM") or DEFAULT_CHROMIUM


def data_dir() -> str:
    """The data folders the server reads (EXPLORE_DATA_DIR's value): this process's
    EXPLORE_DATA_DIR, else the `shared/data` folder beside the repository."""
    configured = os.environ.get("EXPLORE_DATA_DIR", "").strip()
    return configured or str(REPO.parent / "shared" / "data")


def server_env(
    cache_dir: Path | None = None, numba_cache_dir: Path | None = None
) -> dict[str, str]:
    """Environment for a test or benchmark server: the data folder, unbuffered output (the log
    is read while it runs), and optionally its own download cache and numba's on-disk cache
    (kept between runs, it makes `import umap` in the server 2 s instead of 15 s)."""
    env = {"EXPLORE_DATA_DIR": data_dir(), "PYTHONUNBUFFERED": "1"}
    if cache_dir is not None:
        env["EXPLORE_CACHE_DIR"] = str(cache_dir)
    if numba_cache_dir is not None and "NUMBA_CACHE_DIR" not in os.environ:
        env["NUMBA_CACHE_DIR"] = str(numba_cache_dir)
    return env


def browser_problem() -> str | None:
    """Why no browser test can run here (no Playwright, no Chromium), or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"the playwright package is not installed ({error})"
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"no Chromium at {path} (set EXPLORE_CHROMIUM, or `make browser`)"
    return None


def require_browser() -> None:
    """In a pytest test or fixture: skip when no browser test can run here (see
    `browser_problem`), or fail when `EXPLORE_REQUIRE_BROWSER=1` (CI) says they must."""
    import pytest

    problem = browser_problem()
    if problem is None:
        return
    if os.environ.get("EXPLORE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"EXPLORE_REQUIRE_BROWSER=1 but browser tests cannot run: {problem}")
    pytest.skip(f"browser tests skipped: {problem}")


def server_rss_mib(pid: int) -> float:
    """Resident memory of process `pid` (VmRSS of /proc/PID/status), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no VmRSS in /proc/{pid}/status (has the process ended?)")
    return int(match.group(1)) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid`, all its threads (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_use(pid: int, seconds: float = 2.0) -> float:
    """Cores process `pid` kept busy over the next `seconds` (1.0 = one core all the time)."""
    before, started = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - started)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.02) -> float:
    """Poll `condition()` until true; returns the time.perf_counter() when it first was. Raises
    TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


class DashboardServer:
    """`python -m panel serve apps/hsi_dashboard.py` on 127.0.0.1 in a subprocess.

    `extra_args` go to `panel serve` as they are, e.g. `SHORT_SESSION_LIFETIME`: Bokeh destroys
    a closed page's session only `--unused-session-lifetime` ms after it closed (default 15 s),
    checking every `--check-unused-sessions` ms (default 17 s)."""

    def __init__(
        self,
        app: Path = APP,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        address: str = "127.0.0.1",
        websocket_origins: Sequence[str] | None = None,
    ) -> None:
        self.app = Path(app)
        self.address = address
        # None: this page's own origin; () passes none (Bokeh's default: localhost:PORT).
        self.websocket_origins = websocket_origins
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.app.stem}"

    def _origin_args(self) -> list[str]:
        origins = (
            [f"127.0.0.1:{self.port}"] if self.websocket_origins is None else self.websocket_origins
        )
        return [arg for origin in origins for arg in ("--allow-websocket-origin", origin)]

    def start(self) -> DashboardServer:
        """Start the server (returns at once; see `wait_until_serving`)."""
        command = [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(self.app),
            "--address",
            self.address,
            "--port",
            str(self.port),
            *self._origin_args(),
            *self.extra_args,
        ]
        self._log = open(self.log_path, "w") if self.log_path else None  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=str(REPO),
            env=self.env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The server's process id (the `panel serve` interpreter itself)."""
        if self.process is None:
            raise RuntimeError("the server is not started")
        return self.process.pid

    def rss_mib(self) -> float:
        """The server's resident memory now, in MiB."""
        return server_rss_mib(self.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def answers(self, timeout: float = 60.0) -> bool:
        """True when the page's URL answers HTTP 200 now."""
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_until_serving(self, timeout: float = 180.0) -> float:
        """Wait until the page answers; returns the seconds since `start`. Raises RuntimeError
        (with the server's output) when it exits or does not answer in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"panel serve exited early:\n{self.output()}")
            if self.answers():
                return time.perf_counter() - self.started
            time.sleep(0.25)
        raise RuntimeError(f"panel serve did not answer in {timeout:.0f} s:\n{self.output()}")

    def log_text(self) -> str:
        """All the server's output so far ("" when it does not log to a file)."""
        if self.log_path is None or not Path(self.log_path).is_file():
            return ""
        if self._log is not None:
            self._log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def output(self) -> str:
        """The end of the server's output so far (when it logs to a file), for error messages."""
        return self.log_text()[-5000:] if self.log_path is not None else "(no log)"

    def stop(self) -> None:
        """Terminate the server (kill it after 30 s) and close its log."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# Closed pages' sessions are destroyed 5-6 s after they close instead of 15-32 s (milliseconds).
# Not much less: a session made by a page's HTTP request counts as unused until the page's
# websocket connects, which takes over a second on a busy machine; a shorter lifetime destroys
# it first.
SHORT_SESSION_LIFETIME = ["--unused-session-lifetime", "5000", "--check-unused-sessions", "1000"]


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium (the system's, see `chromium_path`) through a Playwright instance."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )


def deep_text(page: Any, css_class: str) -> str:
    """The visible text inside the elements with `css_class`, through shadow roots."""
    return str(page.evaluate(DEEP_TEXT_JS, css_class))


def canvas_signature(page: Any, css_class: str) -> str:
    """Signature of the canvases inside the elements with `css_class` ("" when none painted)."""
    return str(page.evaluate(CANVAS_SIGNATURE_JS, css_class))


@dataclass
class PlotFrame:
    """A Bokeh plot as drawn in the page: its title, its frame (data area) size in CSS pixels
    and its x / y ranges in data units."""

    title: str
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    visible: bool
    glyphs: list[dict[str, Any]] = field(default_factory=list)
    legends: list[dict[str, Any]] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)  # where its vertical / horizontal lines are
    x_min_interval: float | None = None
    box: dict[str, float] | None = None  # the whole plot's place in the page (CSS pixels)
    frame_inside: bool = True  # the frame lies inside the plot (nothing of it clipped)
    frame_offset: tuple[float, float] = (0.0, 0.0)  # the frame's left, top inside the plot

    def page_point(self, x: float, y: float) -> tuple[float, float]:
        """Where the data point (x, y) is drawn in the page (CSS pixels), to click it."""
        if self.box is None:
            raise AssertionError(f"plot {self.title!r} is not in the page")
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        left = self.box["left"] + self.frame_offset[0] + (x - x0) / (x1 - x0) * self.width
        top = self.box["top"] + self.frame_offset[1] + (y1 - y) / (y1 - y0) * self.height
        return left, top

    @property
    def aspect_error(self) -> float:
        """How far one data unit's drawn width is from its drawn height, relative (0 when a
        square pixel of a map is drawn square)."""
        x_scale = self.width / abs(self.x_range[1] - self.x_range[0])
        y_scale = self.height / abs(self.y_range[1] - self.y_range[0])
        return abs(x_scale / y_scale - 1.0)


def plot_frames(page: Any) -> list[PlotFrame]:
    """Every Bokeh plot of the page (see `PLOT_FRAMES_JS`), visible or not (hidden tabs)."""
    return [
        PlotFrame(
            title=str(item["title"]),
            width=float(item["width"]),
            height=float(item["height"]),
            x_range=(float(item["x0"]), float(item["x1"])),
            y_range=(float(item["y0"]), float(item["y1"])),
            visible=bool(item["visible"]),
            glyphs=list(item["glyphs"]),
            legends=list(item["legends"]),
            spans=[float(location) for location in item["spans"] if location is not None],
            x_min_interval=item["x_min_interval"],
            box=item["box"],
            frame_inside=bool(item["frame_inside"]),
            frame_offset=(float(item["frame_left"]), float(item["frame_top"])),
        )
        for item in page.evaluate(PLOT_FRAMES_JS)
    ]


def plot_frame(page: Any, title: str | re.Pattern[str], timeout: float = 60.0) -> PlotFrame:
    """The visible plot whose title contains `title` (a string) or matches it (a pattern),
    waiting up to `timeout` seconds for it to be drawn."""
    found: list[PlotFrame] = []

    def drawn() -> bool:
        found[:] = [
            frame
            for frame in plot_frames(page)
            if frame.visible
            and frame.width > 0
            and (
                title.search(frame.title) if isinstance(title, re.Pattern) else title in frame.title
            )
        ]
        return bool(found)

    wait_for(drawn, timeout, f"a plot titled {title!r}", 0.2)
    return found[0]


def set_number(page: Any, css_class: str, value: int) -> None:
    """Type `value` into the number input inside `css_class` and confirm it with Enter."""
    field = page.locator(f".{css_class} input")
    field.fill(str(value))
    field.press("Enter")


def open_tab(page: Any, name: str) -> None:
    """Click the dashboard tab named `name`."""
    page.locator(".bk-tab", has_text=name).click()


# ---------------------------------------------------------------------- concurrent sessions
# The line an ended session logs once its training thread has ended (explore.dashboard.app).
SESSION_ENDED = (
    r"session ended: run '(?P<run>[^']*)' (?P<status>\w+) after (?P<done>\d+) of (?P<total>\d+) "
    r"epochs; training thread ended, memory released \((?P<live>\d+) live\)"
)
SESSION_STARTED = r"session started \((?P<live>\d+) live\)"


def live_sessions(server: DashboardServer) -> int:
    """Sessions the server has started and not ended, from its log (every page request makes
    one: `wait_until_serving`'s too)."""
    text = server.log_text()
    started = len(re.findall(SESSION_STARTED, text))
    return started - len(re.findall(r"session ended: ", text))


def wait_until_no_sessions(server: DashboardServer, timeout: float = 180.0) -> None:
    """Wait until every session the server started has ended (closed pages' sessions end
    `--unused-session-lifetime` after they close; their memory is released by then)."""
    wait_for(lambda: live_sessions(server) == 0, timeout, "every session to end", 0.2)


def table_rows(text: str) -> list[list[str]]:
    """The rows of the metrics table (Training tab) from its text ("epoch seconds acc ... 1 12.3
    ..."): one list of cells per epoch, the epoch first and its seconds second."""
    tokens = [t for t in text.replace("|", " ").split() if not re.fullmatch(r"-+", t)]
    if "epoch" not in tokens or "seconds" not in tokens:
        return []
    header = tokens[tokens.index("epoch") :]
    n_columns = next(i for i, token in enumerate(header) if re.fullmatch(r"[\d.]+", token))
    cells = header[n_columns:]
    rows = [cells[i : i + n_columns] for i in range(0, len(cells) - n_columns + 1, n_columns)]
    return [row for row in rows if len(row) == n_columns]


@dataclass
class PlannedRun:
    """One browser session's run: `close_after_epochs` > 0 closes its page once that many
    epochs are shown, while it still trains (give it many `epochs`)."""

    method: str
    n_clusters: int
    epochs: int
    dataset: str = "salinas_a"
    config: str = "fast"
    close_after_epochs: int = 0

    @property
    def run_name(self) -> str:
        """The run's name in the page without its number ("sscc on salinas_a (K=6)")."""
        return f"{self.method} on {self.dataset} (K={self.n_clusters})"


@dataclass
class SessionOutcome:
    """What one page showed: every distinct status line and epoch counter it displayed, the
    seconds from Start to finished (or to its page closing), the epochs of its metrics table
    once finished, and for a closed page the epochs its session had done when it ended (from
    the server's log line). `closed_at`, `finished_at`: time.perf_counter() when the page was
    closed / first showed its run finished; `ended_at`: when the server's log first had the
    closed page's end line (seen by polling, so at most a poll round late)."""

    plan: PlannedRun
    texts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    finished: bool = False
    closed_early: bool = False
    table_epochs: list[int] = field(default_factory=list)
    closed_at: float | None = None
    finished_at: float | None = None
    ended_at: float | None = None
    epochs_done: int | None = None
    ended_line: str = ""


# Three sessions at once, small enough to finish in about 1.5 minutes on 2 busy cores (about
# 25 s per epoch each while three train), and a warm-up run before them (`warm_up`).
CONCURRENT_RUNS = (
    # SSCC's epochs are short since dense inference (about 1 s on Salinas-A): 10 of them keep it
    # training until well after the closed page's session has ended.
    PlannedRun("sscc", n_clusters=6, epochs=10),
    PlannedRun("s3ocnet", n_clusters=5, epochs=4),
    # Started last, so the pages are watched from its first epoch on: started second, it trained
    # 33 epochs while a loaded machine opened and filled the third page, before its close.
    PlannedRun("cc", n_clusters=7, epochs=200, close_after_epochs=1),
)
WARM_UP_RUN = PlannedRun("sscc", n_clusters=4, epochs=1)


def open_session(browser: Any, url: str, timeout_ms: float = 180_000) -> Any:
    """A page in a new browser context (its own cookies: its own dashboard session), loaded."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url, timeout=timeout_ms)
    page.locator(".start-button button").wait_for(timeout=timeout_ms)
    return page


def choose_dataset(page: Any, name: str, timeout_ms: float = 120_000) -> None:
    """Pick a registered dataset in the sidebar and wait until the server has taken it: a new
    dataset sets K to its number of classes once loaded, which can take seconds while other
    sessions train, so a K typed before then would be overwritten (a fixed 1 s wait lost the
    typed K on a loaded 2-core CI machine)."""
    from explore.data.registry import load_dataset

    page.locator(".dataset-select select").select_option(name)
    n_classes = int(getattr(load_dataset(name, download=False), "n_classes", 0) or 0)
    if n_classes >= 2:
        expect_value(page, ".k-input input", str(n_classes), timeout_ms)
    else:
        page.wait_for_timeout(1000)


def expect_value(page: Any, selector: str, value: str, timeout_ms: float = 60_000) -> None:
    """Wait until the input at `selector` holds `value` (as the server last set or was sent)."""
    field = page.locator(selector)
    deadline = time.monotonic() + timeout_ms / 1000
    while field.input_value() != value:
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} shows {field.input_value()!r}, not {value!r}")
        time.sleep(0.1)


def start_run(page: Any, plan: PlannedRun) -> None:
    """Fill the sidebar with `plan`'s settings, open the Training tab and press Start."""
    choose_dataset(page, plan.dataset)
    page.locator(".method-select select").select_option(plan.method)
    page.locator(".config-select select").select_option(plan.config)
    set_number(page, "k-input", plan.n_clusters)
    set_number(page, "epochs-input", plan.epochs)
    open_tab(page, "Training")
    page.wait_for_timeout(500)  # the inputs reach the server before the click
    expect_value(page, ".k-input input", str(plan.n_clusters), 5_000)
    page.locator(".start-button button").click()


def run_texts(page: Any) -> tuple[str, str]:
    """The page's status line and epoch counter, as shown."""
    return deep_text(page, "run-status"), deep_text(page, "epoch-counter")


def _settled_counter(page: Any, expected: str, timeout: float = 10.0) -> str:
    """The epoch counter once it shows `expected`, or as it is after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    counter = run_texts(page)[1]
    while counter != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        counter = run_texts(page)[1]
    return counter


def shown_epoch(counter: str) -> int:
    """The finished epochs in an epoch counter's text ("epoch 3 / 5" -> 3)."""
    match = re.search(r"epoch (\d+) /", counter)
    return int(match.group(1)) if match else 0


def _end_lines(server: DashboardServer) -> list[re.Match]:
    return list(re.finditer(SESSION_ENDED, server.log_text()))


def warm_up(server: DashboardServer, browser: Any, plan: PlannedRun | None = None) -> float:
    """Load one page (imports, the default scene cached), optionally train `plan` in it to its
    end, close it and wait until no session is left; returns the server's RSS (MiB) after."""
    page = open_session(browser, server.url)
    wait_for(lambda: canvas_signature(page, "composite-plot") != "", 180, "the composite")
    if plan is not None:
        start_run(page, plan)
        wait_for(lambda: "finished" in run_texts(page)[0], 600, "the warm-up run to finish", 0.5)
    page.context.close()
    wait_until_no_sessions(server)
    time.sleep(1.0)
    return server.rss_mib()


def _session_end(server: DashboardServer, plan: PlannedRun, since: int) -> re.Match | None:
    """The server's line saying `plan`'s session ended, among the end lines after the first
    `since`, or None."""
    for line in _end_lines(server)[since:]:
        if re.fullmatch(r"\d+\. " + re.escape(plan.run_name), line["run"]):
            return line
    return None


def concurrent_sessions(
    server: DashboardServer, browser: Any, plans: Sequence[PlannedRun], timeout: float = 900.0
) -> tuple[list[SessionOutcome], dict[str, float]]:
    """One page per plan, each in its own browser context, all training at once: pages whose
    plan says so are closed mid-run; the others are polled until their run finishes, then
    closed. Returns what each page showed and measures of the server: its RSS (MiB) `peak`
    while the pages were open and `after` once every page's session has ended, and `idle_cpu`,
    the cores it kept busy over 3 s after that (no training thread left: near 0)."""
    ended_before = len(_end_lines(server))
    pages, outcomes, started = [], [], []
    for plan in plans:
        page = open_session(browser, server.url)
        pages.append(page)
        outcomes.append(SessionOutcome(plan=plan))
    for page, plan in zip(pages, plans, strict=True):
        start_run(page, plan)
        started.append(time.perf_counter())
    peak = server.rss_mib()
    open_pages = set(range(len(pages)))
    deadline = time.monotonic() + timeout
    while any(not (o.finished or o.closed_early) for o in outcomes):
        if time.monotonic() > deadline:
            raise TimeoutError(f"sessions still training after {timeout:.0f} s")
        for index, (page, outcome, plan) in enumerate(zip(pages, outcomes, plans, strict=True)):
            if outcome.closed_early and outcome.ended_at is None:
                _record_end(outcome, _session_end(server, plan, ended_before))
            if index not in open_pages or outcome.finished:
                continue
            status, counter = run_texts(page)
            for text in (status, counter):
                if text not in outcome.texts:
                    outcome.texts.append(text)
            if plan.close_after_epochs and shown_epoch(counter) >= plan.close_after_epochs:
                outcome.closed_at = time.perf_counter()
                outcome.seconds = outcome.closed_at - started[index]
                outcome.closed_early = True
                page.context.close()
                open_pages.discard(index)
            elif status.startswith("finished") or status.startswith("failed"):
                outcome.finished_at = time.perf_counter()
                outcome.seconds = outcome.finished_at - started[index]
                outcome.finished = status.startswith("finished")
                if not outcome.finished:
                    raise RuntimeError(f"{plan.run_name} failed: {status}")
                # The status and the counter are two panes, redrawn by separate messages: on a
                # busy machine the counter may be drawn after the status. Wait for it a while.
                final = _settled_counter(page, f"epoch {plan.epochs} / {plan.epochs}")
                if final not in outcome.texts:
                    outcome.texts.append(final)
                outcome.table_epochs = _table_epochs(page, plan)
        peak = max(peak, server.rss_mib())
        time.sleep(0.5)
    for index in sorted(open_pages):
        pages[index].context.close()
    wait_until_no_sessions(server)
    for outcome in outcomes:
        if outcome.closed_early and outcome.ended_at is None:
            _record_end(outcome, _session_end(server, outcome.plan, ended_before))
    time.sleep(1.0)
    after = server.rss_mib()
    return outcomes, {"peak": peak, "after": after, "idle_cpu": cpu_use(server.pid, 3.0)}


def _table_epochs(page: Any, plan: PlannedRun, timeout: float = 30.0) -> list[int]:
    """The epochs in the page's metrics table once it shows `plan`'s last (the table follows
    the run's records), or what it shows after `timeout` seconds."""
    wanted = list(range(max(1, plan.epochs - 9), plan.epochs + 1))  # the table's last 10
    deadline = time.monotonic() + timeout
    while True:
        epochs = [int(row[0]) for row in table_rows(deep_text(page, "metrics-table"))]
        if epochs == wanted or time.monotonic() > deadline:
            return epochs
        time.sleep(0.2)


def _record_end(outcome: SessionOutcome, line: re.Match | None) -> None:
    if line is not None:
        outcome.ended_at = time.perf_counter()
        outcome.epochs_done = int(line["done"])
        outcome.ended_line = line[0]
