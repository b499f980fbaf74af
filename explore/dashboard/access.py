"""Who gets the dashboard: browsers on this machine, others only when their owner says so.

`panel serve` listens on every interface unless `--address` says otherwise, and every page
request runs the app (loads a scene, builds a session). Bokeh refuses websockets from origins
not in `--allow-websocket-origin`, but the page itself would still be built for anyone who
can reach the port. So `build_dashboard` asks `refused_client()` first: a browser on another
machine gets a short page saying how to open the dashboard to it (`EXPLORE_DASHBOARD_REMOTE=1`
plus the `panel serve` options in the README), and nothing is loaded for it.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import panel as pn

REMOTE_ENV = "EXPLORE_DASHBOARD_REMOTE"


def client_address() -> str | None:
    """The address of the browser this session serves (None outside a server: a notebook,
    a test). Behind a proxy, `panel serve --use-xheaders` makes this the browser's address."""
    document = pn.state.curdoc
    context = None if document is None else document.session_context
    request = None if context is None else getattr(context, "request", None)
    address = None if request is None else getattr(request, "remote_ip", None)
    return str(address) if address else None


def is_loopback(address: str | None) -> bool:
    """Whether `address` is this machine (no address at all counts as this machine)."""
    if address is None:
        return True
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:  # not an IP address: never trusted
        return False


def remote_allowed() -> bool:
    """Whether browsers on other machines get the dashboard (`EXPLORE_DASHBOARD_REMOTE=1`)."""
    return os.environ.get(REMOTE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def refused_client() -> str | None:
    """The address of a browser on another machine that must not get the dashboard, or None
    when this session may be served."""
    address = client_address()
    if is_loopback(address) or remote_allowed():
        return None
    return address


def refusal_page(address: str, title: str, **template: Any) -> pn.template.FastListTemplate:
    """What a browser on another machine sees unless the dashboard was opened to it
    (`template`: more FastListTemplate settings, e.g. the page's design)."""
    message = (
        f"This dashboard serves only the machine it runs on (your address: {address}). Its "
        f"owner can open it to other machines with `{REMOTE_ENV}=1` and the `panel serve` "
        "options described in the README (allowed websocket origins, authentication, TLS)."
    )
    return pn.template.FastListTemplate(
        title=title, main=[pn.pane.Markdown(message, css_classes=["remote-refused"])], **template
    )
