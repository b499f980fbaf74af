"""What background threads produce reaches a served page on the page's own thread
(`explore.dashboard.publishing.PageUpdates`): a finished run's map was sometimes never drawn
when the training thread changed the page's components itself."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from explore.dashboard.publishing import PageUpdates
from explore.dashboard.session import TrainingSession


class _Context:
    """Stands for the Bokeh server's session context of a served document."""


@pytest.fixture
def served_document() -> Iterator[Document]:
    """A document with a session context, current while the page is built (as on a server);
    the test runs its next-tick callbacks itself, as the server's event loop would."""
    document = Document()
    context = _Context()
    document._session_context = weakref.ref(context)
    with set_curdoc(document):
        yield document
    del context


def run_next_ticks(document: Document) -> int:
    """Run the document's waiting next-tick callbacks on this thread; how many ran."""
    callbacks = list(document.session_callbacks)
    for callback in callbacks:
        callback.callback()
    return len(callbacks)


def in_thread(work: Any, *args: Any) -> None:
    thread = threading.Thread(target=work, args=args)
    thread.start()
    thread.join(30)


def test_a_worker_threads_changes_wait_for_the_pages_thread(served_document: Document) -> None:
    updates = PageUpdates()
    applied: list[tuple[int, threading.Thread]] = []

    def change(value: int) -> None:
        applied.append((value, threading.current_thread()))

    updates(change, 0)  # on the page's thread: at once
    in_thread(lambda: [updates(change, value) for value in (1, 2, 3)])
    assert [value for value, _ in applied] == [0]
    assert updates.pending == 3
    assert run_next_ticks(served_document) == 3
    assert [value for value, _ in applied] == [0, 1, 2, 3]  # in the order made
    assert {thread for _, thread in applied} == {threading.current_thread()}
    assert updates.pending == 0


def test_changes_for_a_closed_page_are_dropped(served_document: Document) -> None:
    updates = PageUpdates()
    served_document._session_context = None  # the tab closed: the server destroyed it
    applied: list[int] = []
    in_thread(updates, applied.append, 1)
    assert applied == [] and updates.pending == 0


def test_without_a_served_page_changes_apply_at_once() -> None:
    updates = PageUpdates()
    applied: list[threading.Thread] = []
    in_thread(updates, lambda: applied.append(threading.current_thread()))
    assert len(applied) == 1 and applied[0] is not threading.current_thread()


def test_a_worker_waits_until_the_page_has_applied_its_changes(served_document: Document) -> None:
    updates = PageUpdates()
    waited: list[bool] = []
    worker = threading.Thread(
        target=lambda: [updates(int), waited.append(updates.wait_applied(30))]
    )
    worker.start()
    deadline = time.monotonic() + 30
    while not updates.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert worker.is_alive() and waited == []  # still waiting for the page
    run_next_ticks(served_document)
    worker.join(30)
    assert waited == [True]
    # with nobody applying them, the wait ends after its timeout, saying so
    in_thread(lambda: [updates(int), waited.append(updates.wait_applied(0.3))])
    assert waited == [True, False] and updates.pending == 1


def test_a_served_sessions_run_changes_the_page_on_its_thread(
    served_document: Document,
) -> None:
    """The records, the run kept and the status of a run reach the page's components on the
    page's thread (the test applies them as the server's event loop would), and the session
    counts as running while a change waits for the page."""
    session = TrainingSession(dataset="salinas_a", method="kmeans", n_clusters=6)
    seen: list[tuple[str, threading.Thread]] = []
    session.param.watch(
        lambda event: seen.append((event.name, threading.current_thread())),
        ["records", "runs", "status"],
    )
    assert session.start()
    deadline = time.monotonic() + 120
    while (session.running or session.status == "running") and time.monotonic() < deadline:
        run_next_ticks(served_document)
        time.sleep(0.02)
    assert session.last_word == ("finished", 1)  # said by the thread itself, as it ended
    assert session.status == "finished" and len(session.records) == 1
    assert list(session.runs) == [session.run_name]
    assert {name for name, _ in seen} >= {"records", "runs", "status"}
    assert {thread for _, thread in seen} == {threading.current_thread()}

    in_thread(session.publish, setattr, session, "message", "from a thread")
    assert session.running and session.message != "from a thread"
    assert not session.start()  # no new run while the last one's changes wait for the page
    run_next_ticks(served_document)
    assert not session.running and session.message == "from a thread"


class _Server:
    """Stands for the Bokeh server's session of a page: its browser connections."""

    def __init__(self) -> None:
        self.connection_count = 1
        self.destroyed = False


def test_a_page_whose_browser_left_gets_no_more_changes(served_document: Document) -> None:
    """Drawing for a closed tab kept the server busy and its session from expiring (Bokeh
    does not expire a session whose changes wait for its lock): its run trained on."""
    server = _Server()
    served_document.session_context.session = server
    updates = PageUpdates()
    applied: list[int] = []
    in_thread(updates, applied.append, 1)
    assert updates.pending == 1
    server.connection_count = 0  # the tab closed
    waited: list[bool] = []
    in_thread(lambda: waited.append(updates.wait_applied(30)))
    assert waited == [True] and updates.pending == 0  # no wait for a page nobody sees
    in_thread(updates, applied.append, 2)
    assert updates.pending == 0  # dropped at once
    run_next_ticks(served_document)
    assert applied == []
