"""Serve the dashboard with `panel serve` in a subprocess and look at it in headless Chromium:
shared by the browser tests (tests/test_dashboard_browser.py) and benchmarks/dashboard.py.

Chromium is the system's (Debian's `chromium`, or `EXPLORE_CHROMIUM`), driven by Playwright
(imported lazily: a test dependency); nothing is downloaded. Panel renders into shadow DOM, so
pages are searched with Playwright locators or with the shadow-DOM walks below, never with
`page.inner_text("body")`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str:
    """The Chromium to drive: `EXPLORE_CHROMIUM`, else Debian's /usr/bin/chromium."""
    return os.environ.get("EXPLORE_CHROMIUM") or DEFAULT_CHROMIUM


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


class DashboardServer:
    """`python -m panel serve apps/hsi_dashboard.py` on 127.0.0.1 in a subprocess."""

    def __init__(
        self,
        app: Path = APP,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.app = Path(app)
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.app.stem}"

    def start(self) -> DashboardServer:
        """Start the server (returns at once; see `wait_until_serving`)."""
        command = [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(self.app),
            "--address",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--allow-websocket-origin",
            f"127.0.0.1:{self.port}",
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

    def output(self) -> str:
        """The server's output so far (when it logs to a file)."""
        if self.log_path is None or not Path(self.log_path).is_file():
            return "(no log)"
        if self._log is not None:
            self._log.flush()
        return Path(self.log_path).read_text(errors="replace")[-5000:]

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
