"""Who gets the dashboard: closed to other machines by default (explore.dashboard.access).

The unit tests fake the browser's address; the served tests start `panel serve` the way the
README says and ask for the page from this machine's own network address (not loopback), with
a foreign websocket origin, and with the documented password option.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
from collections.abc import Iterator

import pytest
from browser_harness import DashboardServer, wait_for

from explore.dashboard import access
from explore.dashboard.app import build_dashboard


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        (None, True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("192.0.2.7", False),
        ("10.0.0.1", False),
        ("::ffff:192.0.2.7", False),
        ("fe80::1%eth0", False),
        ("localhost", False),  # not an address: never trusted
        ("", False),
    ],
)
def test_is_loopback(address: str | None, loopback: bool) -> None:
    assert access.is_loopback(address) is loopback


def test_a_remote_browser_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "client_address", lambda: "192.0.2.7")
    monkeypatch.delenv(access.REMOTE_ENV, raising=False)
    assert access.refused_client() == "192.0.2.7"
    page = build_dashboard()
    assert not hasattr(page, "dashboard")  # nothing built, nothing loaded for it
    assert "serves only the machine it runs on" in page.main[0].object
    for value in ("1", "true", "yes"):
        monkeypatch.setenv(access.REMOTE_ENV, value)
        assert access.refused_client() is None
    monkeypatch.setenv(access.REMOTE_ENV, "0")
    assert access.refused_client() == "192.0.2.7"


def test_this_machine_and_notebooks_get_the_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(access.REMOTE_ENV, raising=False)
    assert access.client_address() is None  # not served
    assert access.refused_client() is None
    monkeypatch.setattr(access, "client_address", lambda: "127.0.0.1")
    page = build_dashboard()
    assert hasattr(page, "dashboard")
    page.dashboard.session.close()


# ---------------------------------------------------------------------------------- served
def _own_address() -> str | None:
    """This machine's address on its network (not loopback), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if access.is_loopback(address) or address == "0.0.0.0" else address


def _get(address: str, port: int, path: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection(address, port, timeout=120)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return (
            response.status,
            dict(response.getheaders()),
            response.read().decode(errors="replace"),
        )
    finally:
        connection.close()


def _websocket_status(port: int, origin: str) -> int:
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        "Origin": origin,
    }
    return _get("127.0.0.1", port, "/hsi_dashboard/ws", headers)[0]


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    """`panel serve apps/hsi_dashboard.py --address 0.0.0.0`: listening everywhere, with no
    other option (the plain command's defaults)."""
    folder = tmp_path_factory.mktemp("open_server")
    env = {"EXPLORE_CACHE_DIR": str(folder / "cache"), access.REMOTE_ENV: ""}
    server = DashboardServer(
        env=env, log_path=folder / "panel_serve.log", address="0.0.0.0", websocket_origins=()
    )
    server.start()
    try:
        server.wait_until_serving(timeout=180)
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_served_page_is_closed_to_other_machines(open_server: DashboardServer) -> None:
    """The page's document travels over the websocket, so the server log tells what was
    built for each request: a refusal for this machine's network address, a session for
    loopback."""
    own = _own_address()
    if own is None:
        pytest.skip("this machine has no network address but loopback")
    started = open_server.log_text().count("session started")
    assert _get(own, open_server.port, "/hsi_dashboard")[0] == 200
    wait_for(lambda: f"refused the dashboard to {own}" in open_server.log_text(), 60, "refusal")
    assert open_server.log_text().count("session started") == started  # nothing built
    assert _get("127.0.0.1", open_server.port, "/hsi_dashboard")[0] == 200
    wait_for(
        lambda: open_server.log_text().count("session started") == started + 1, 60, "a session"
    )


@pytest.mark.slow
def test_served_page_refuses_websockets_from_other_origins(open_server: DashboardServer) -> None:
    port = open_server.port
    assert _websocket_status(port, f"http://evil.example:{port}") == 403
    assert _websocket_status(port, "http://192.0.2.7") == 403
    # With no --allow-websocket-origin, Bokeh admits this machine's own name and port only:
    assert _websocket_status(port, f"http://localhost:{port}") != 403


@pytest.mark.slow
def test_documented_password_option_guards_the_page(tmp_path) -> None:
    """The README's `--basic-auth` + `--cookie-secret` on this app: no page without logging in."""
    credentials = tmp_path / "credentials.json"
    credentials.write_text('{"ada": "correct horse battery staple"}')
    server = DashboardServer(
        env={"EXPLORE_CACHE_DIR": str(tmp_path / "cache"), access.REMOTE_ENV: "1"},
        log_path=tmp_path / "panel_serve.log",
        extra_args=["--basic-auth", str(credentials), "--cookie-secret", "s" * 32],
    )
    server.start()
    try:
        server.wait_until_serving(timeout=180)  # follows the redirect to the login form
        status, headers, _ = _get("127.0.0.1", server.port, "/hsi_dashboard")
        assert status == 302 and "login" in headers.get("Location", "")
        assert "session started" not in server.log_text()  # nothing built before a login
    finally:
        server.stop()
