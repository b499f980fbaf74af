"""Where the changes a worker thread makes to a page are applied.

Training, embedding and UMAP run in background threads; what they produce (an epoch's record,
a provisional map, a run's end, a finished embedding) changes the page's components. Made from
the worker thread, those changes race with the page's own thread: on a served page, Panel and
HoloViews then build new plot models outside the server's rendering while the event loop
applies the browser's messages to the same Bokeh document, and a finished run's map sometimes
never reached the browser (an "epoch 1" map missing a minute after the run ended). So a worker
hands each change to a `PageUpdates`, which applies it on the thread that draws the page:

- served by `panel serve`: the session's Bokeh document runs it on its event loop's next tick
  (`Document.add_next_tick_callback`, Bokeh's one thread-safe entry; as `pn.state.execute`
  does for a callback made on the page), with the document as Panel's current one;
- in a notebook (`explore.dashboard.notebook`): the kernel's event loop runs it;
- anywhere else (a script, a test): at once, on the worker's thread.

Changes are applied in the order they were made. `pending` counts those handed over and not yet
applied: a session is still busy while its last word waits for the page. Once the page is gone
(its browser disconnected: the tab closed), changes are dropped. A worker keeps pace with the
page by waiting for its last change to be drawn (`wait_applied`) before it makes the next.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import panel as pn
from panel.io.state import set_curdoc

__all__ = ["PageUpdates"]


class PageUpdates:
    """Applies changes made on worker threads on the thread that draws the page.

    Made on that thread (while the page is built): it remembers the thread and, on a served
    page, the session's document. Changes from other threads wait in a queue, oldest first,
    until the page's thread applies them (`_wake` asks it to)."""

    def __init__(self) -> None:
        self.owner = threading.current_thread()
        document = pn.state.curdoc
        served = document is not None and document.session_context is not None
        self.document = document if served else None
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._applied = threading.Condition(self._lock)  # notified when nothing is pending
        self._pending = 0
        self._connected = False  # a browser was seen connected to the served page

    @property
    def pending(self) -> int:
        """How many changes were handed over and are not applied yet."""
        with self._lock:
            return self._pending

    def __call__(self, update: Callable[..., None], *args: Any) -> None:
        """`update(*args)` on the page's thread: at once when already there (or when there is
        no page loop), else queued there."""
        if self._here():
            update(*args)
            return
        with self._lock:
            self._pending += 1
        self._queue.put(functools.partial(update, *args))
        if self._page_gone() or not self._wake():  # nobody will see the changes
            self._apply_queued(discard=True)

    def wait_applied(self, timeout: float) -> bool:
        """Block (a worker thread) until every handed-over change is applied, at most
        `timeout` seconds; True when none is left. A worker that waits here after each result
        produces no faster than the page draws (else its results pile up on the page's
        thread and the page falls minutes behind). Changes for a page that closed meanwhile
        are dropped."""
        deadline = time.monotonic() + timeout
        gone = False
        with self._applied:
            while self._pending and not (gone := self._page_gone()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied.wait(min(left, 0.25))
        if self._pending and gone:
            self._apply_queued(discard=True)
        return True

    def drain(self) -> None:
        """Apply the queued changes, oldest first, when called on the page's thread."""
        if threading.current_thread() is self.owner:
            self._apply_queued()

    # ------------------------------------------------------------------ internals
    def _here(self) -> bool:
        return self.document is None or threading.current_thread() is self.owner

    def _page_gone(self) -> bool:
        """Whether the served page closed: the browser that was connected to it is gone, or
        its session was destroyed. Drawing for it would only keep the server busy,
        and Bokeh keeps a session whose changes wait for its lock from expiring: the closed
        page's run then trained on for half a minute on a loaded machine."""
        document = self.document
        if document is None:
            return False
        context = document.session_context
        session = None if context is None else getattr(context, "session", None)
        if context is None or (session is not None and session.destroyed):
            return True
        if session is None:
            return False
        if session.connection_count:
            self._connected = True
            return False
        return self._connected  # it was connected, and is no more

    def _wake(self) -> bool:
        """Ask the page's thread to apply the queue; False when its document was destroyed."""
        document = self.document
        if document.session_context is None:
            return False

        def on_page() -> None:
            with set_curdoc(document):  # Panel then changes the models directly
                self._apply_queued()

        try:
            document.add_next_tick_callback(on_page)
        except (RuntimeError, AttributeError):  # destroyed meanwhile
            return False
        return True

    def _apply_queued(self, discard: bool = False) -> None:
        while True:
            try:
                apply = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if not discard:
                    apply()
            finally:
                with self._lock:
                    self._pending -= 1
                    if not self._pending:
                        self._applied.notify_all()
