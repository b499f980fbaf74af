"""The dashboard's live Training view inside a notebook: `watch(method, data)`.

`watch` starts a run in the background and returns a `LiveRun`, which a notebook cell displays
as the dashboard's Training view (`TrainingView` over a `TrainingSession`, the same components
the page uses): the cluster map of the newest epoch (the provisional map while a long epoch
runs), the ground truth, loss and metric curves, cluster sizes, clusters against classes and
the epoch player, with a status line and a Stop button above them. The cell is done at once;
the view keeps redrawing while the run goes on. `run.wait()` blocks until the run ends and
returns the fitted method (what `method.fit(data)` would give); `run.stop()` ends it after the
current batch.

The method is a registered name (`"sscc"`, `"kmeans"`, ...: built as the dashboard builds it,
settings as keywords) or a method object (`SSCC(n_clusters=16, epochs=5)`: trained in place, as
its `fit` would, its settings untouched). The data is a `Scene` or an `ImageSet` object, used as
given; nothing is read from disk. Bad input raises the error the dashboard shows (K larger
than the data, an unknown config, ...); a run that fails in its thread shows the error in the
view, and `wait()` raises it.

Updates from the training thread: in a notebook, Panel sends each change of a displayed
component over the output's comm at once, from whichever thread makes it
(`panel.io.notebook.push`), while the kernel's own thread applies what the browser sends back
(plot ranges and sizes, widget values: `MimeRenderMixin._on_msg`) to the same Bokeh document.
Both at once lose updates: BokehJS then reports "reference ... isn't known" and the map stayed
at an earlier epoch than the label beside it. So the session publishes on the thread that made
it, the kernel's (`KernelUpdates`, the notebook's `explore.dashboard.publishing.PageUpdates`):
every record, provisional map and kept run the training thread produces is queued and applied
by a callback on the kernel's event loop (`call_soon_threadsafe`), as a served page applies
them on its event loop's next tick; the view updates while the kernel is idle, and while
`wait()` waits (it applies them too). Without a running event loop (a script, a test) the
training thread publishes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import panel as pn
import param

from explore.dashboard.publishing import PageUpdates
from explore.dashboard.session import SESSION_METHODS, TrainingSession
from explore.dashboard.training_view import TrainingView
from explore.data.images import ImageSet
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods import DEEP_METHODS, method_class
from explore.training.history import RunHistory

__all__ = ["SETTINGS", "LiveRun", "NotebookSession", "watch"]

NOTEBOOK_PREFIX = "notebook: "
"""How the watched data is named among the session's datasets ("notebook: indian_pines")."""
SETTINGS = ("n_clusters", "epochs", "seed", "config", "device", "band_range", "pool_spec")
"""Keywords `watch` takes with a method name: the dashboard's sidebar settings."""


def registered_name(method: Any) -> str:
    """The registry name of a method object the live view trains (`SESSION_METHODS`)."""
    for name in SESSION_METHODS:
        if type(method) is method_class(name):
            return name
    raise DataError(
        f"{type(method).__name__} is not a method the live view trains: give one of "
        f"{', '.join(SESSION_METHODS)} (a name or a method object)"
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on this thread (a notebook kernel's, in a cell), else None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def check_data(data: Any) -> None:
    """DataError unless `data` is a `Scene` or an `ImageSet`."""
    if not isinstance(data, Scene | ImageSet):
        raise DataError(
            "the live view trains on a Scene or an ImageSet (explore.data.registry."
            f"load_dataset, load_scene, ...); got {type(data).__name__}"
        )


class KernelUpdates(PageUpdates):
    """`PageUpdates` for a notebook: the training thread's changes are applied by a callback
    on the kernel's event loop (`call_soon_threadsafe`), and by `drain` (which `LiveRun.wait`
    calls while it waits); without a running event loop, at once."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = _running_loop()

    def _here(self) -> bool:
        return self.loop is None or threading.current_thread() is self.owner

    def wait_applied(self, timeout: float) -> bool:
        """No waiting: a kernel busy with another cell must not stall the run (its changes
        are applied when the kernel is idle again, or by `wait()`)."""
        return self.pending == 0

    def _wake(self) -> bool:
        with contextlib.suppress(RuntimeError):  # a closed loop: `wait()` applies them
            self.loop.call_soon_threadsafe(self.drain)
        return True


class NotebookSession(TrainingSession):
    """A `TrainingSession` over one given dataset object and, optionally, one given method
    object (`given`) that `start()` trains instead of building one from the settings. It
    publishes on the kernel's thread (`KernelUpdates`)."""

    def __init__(self, data: Scene | ImageSet, given: Any = None, **params: Any) -> None:
        check_data(data)
        super().__init__(**params)
        self.given = given
        self.failure: BaseException | None = None  # the exception behind `error`, if any
        self.dataset = self.add_upload(data.name, data, prefix=NOTEBOOK_PREFIX)

    def _page_updates(self) -> PageUpdates:
        return KernelUpdates()

    def _build_method(self, data: Scene | ImageSet) -> Any:
        if self.given is None:
            return super()._build_method(data)
        self._check_size(data)
        if self.method in DEEP_METHODS:
            self.given.settings()  # an unknown config fails here, before the thread
        return self.given

    def _fail(self, error: BaseException) -> None:
        self.failure = error  # the exception behind `error`: `wait()` raises it
        super()._fail(error)

    def _end_failed(self, error: BaseException) -> None:
        self.failure = error
        super()._end_failed(error)


class LiveRun(pn.viewable.Viewer):
    """A run started by `watch`: displayed, the dashboard's Training view of it; `wait()`,
    `stop()`, and the run's `method`, `history` and `status`."""

    session = param.ClassSelector(class_=NotebookSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # the map redrawn in place: a new figure per update can stop following in JupyterLab
        self.view = TrainingView(session=self.session, in_place=True)
        self.status_line = pn.pane.Markdown(
            self._status_text(), css_classes=["run-status"], margin=(5, 10)
        )
        self.stop_button = pn.widgets.Button(
            label="Stop", css_classes=["stop-button"], width=90, disabled=True
        )
        self.stop_button.on_click(lambda event: self.stop())
        self.session.param.watch(self._on_status, ["status", "message", "error"])

    # ------------------------------------------------------------------ the run
    @property
    def status(self) -> str:
        """ "running", "stopping", "finished", "stopped" or "failed"."""
        return self.session.status

    @property
    def method(self) -> Any:
        """The method being trained (fitted once the run has ended)."""
        return self.session.current_method

    @property
    def history(self) -> RunHistory:
        """The run's epochs so far."""
        return self.session.history()

    def stop(self) -> None:
        """Ask the run to end after its current batch (returns at once; `wait()` for it)."""
        self.session.stop()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the run ends and return the fitted method (after `stop()`, fitted with
        the epochs it trained). TimeoutError after `timeout` seconds while it still runs; a
        failed run raises its error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.session.join(0.1):  # the view follows meanwhile (queued updates)
            self.session.page_updates.drain()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"the run is still going after {timeout} s: wait longer, or stop() it"
                )
        self.session.page_updates.drain()
        if self.session.status == "failed":
            if self.session.failure is not None:
                raise self.session.failure
            raise DataError(self.session.error)
        return self.session.current_method

    # ------------------------------------------------------------------ the view
    def _status_text(self) -> str:
        session = self.session
        if session.status == "failed":
            return f"**failed**: {session.error}"
        return f"**{session.status}**" + (f": {session.message}" if session.message else "")

    def _on_status(self, *events: Any) -> None:
        self.status_line.object = self._status_text()
        self.stop_button.disabled = self.session.status != "running"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.stop_button, self.status_line),
            self.view,
            sizing_mode="stretch_width",
        )


def watch(method: Any, data: Scene | ImageSet, **settings: Any) -> LiveRun:
    """Start training `method` on `data` in a background thread and return its `LiveRun`:
    show it in a notebook cell to watch the run live (the dashboard's Training view), then
    `run.wait()` for the fitted method.

    `method`: a registered name (one of `SESSION_METHODS`) with the dashboard's settings as
    keywords (`SETTINGS`: `n_clusters`, default the data's number of classes, `epochs`, `seed`,
    `config`, `device`, `band_range`, `pool_spec`), or a method object, whose own settings
    apply (no keywords then). Raises DataError for bad input, with the dashboard's message."""
    check_data(data)
    if isinstance(method, str):
        if method not in SESSION_METHODS:
            raise DataError(
                f"unknown method {method!r}; choose one of {', '.join(SESSION_METHODS)}"
            )
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise DataError(
                f"unknown setting {', '.join(unknown)}; choose from {', '.join(SETTINGS)}"
            )
        n_clusters = settings.pop("n_clusters", None) or getattr(data, "n_classes", 0)
        if not n_clusters:
            raise DataError(f"{data.name} has no labels to take K from: give n_clusters")
        session = NotebookSession(data, method=method, n_clusters=n_clusters, **settings)
    else:
        if settings:
            raise DataError(
                f"{', '.join(sorted(settings))}: a method object brings its own settings; "
                f"give them to its constructor (e.g. {type(method).__name__}(n_clusters=...))"
            )
        session = NotebookSession(data, given=method, **_mirrored(method))
    run = LiveRun(session=session)
    if not session.start():
        raise session.failure or DataError(session.error)
    return run


def _mirrored(method: Any) -> dict[str, Any]:
    """A method object's settings as the session's (its name, K, seed, config, epochs), for
    the view's titles and the run's name; DataError for what the dashboard refuses too."""
    name = registered_name(method)
    n_clusters = method.n_clusters
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 2:
        raise DataError(f"the number of clusters must be an integer >= 2; got {n_clusters!r}")
    mirrored: dict[str, Any] = {"method": name, "n_clusters": n_clusters}
    if isinstance(method.seed, int):
        mirrored["seed"] = method.seed
    if name in DEEP_METHODS:
        epochs = method.settings()["epochs"]  # an unknown config fails here
        if isinstance(epochs, int) and 1 <= epochs <= 1000:
            mirrored["epochs"] = epochs
        if method.config in TrainingSession.param.config.objects:
            mirrored["config"] = method.config
    return mirrored
