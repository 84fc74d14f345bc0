"""The page is for this machine only by default; on any other address it needs the token printed at start."""

from __future__ import annotations

import httpx
import pytest

from cliprt_data.teleop.web import Hub, WebApp, WebConfig, WebUser, is_loopback
from cliprt_data.teleop.web.server import access_token

from .test_web_teleop import wait_for

pytestmark = pytest.mark.timeout(120)


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.3.4.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.7") and not is_loopback("example.org")
    assert access_token("127.0.0.1") is None and access_token("127.0.0.1", "given") == "given"
    a, b = access_token("0.0.0.0"), access_token("0.0.0.0")
    assert a and b and a != b and len(a) >= 24


def ws_url(app: WebApp, token: str | None) -> str:
    return f"ws://127.0.0.1:{app.port}/ws" + (f"?token={token}" if token else "")


def test_non_loopback_needs_the_token_in_page_and_socket(browser):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    user = WebUser(Hub())
    with WebApp(user, WebConfig(host="0.0.0.0", port=0)) as app:
        assert app.token and f"?token={app.token}" in app.url
        base = f"http://127.0.0.1:{app.port}/"
        assert httpx.get(base).status_code == 401
        assert httpx.get(base, params={"token": "wrong"}).status_code == 401
        assert httpx.get(base, params={"token": app.token}).status_code == 200
        for bad in (None, "wrong"):
            with pytest.raises(InvalidStatus), connect(ws_url(app, bad)):
                pass
        with connect(ws_url(app, app.token)) as ws:
            assert '"history"' in ws.recv(timeout=5)

        browser.get(base)
        assert "token is required" in browser.find_element("tag name", "body").text
        browser.get(app.url)
        wait_for(lambda: browser.find_element("id", "connection").text == "connected", what="the socket")


def test_loopback_needs_no_token():
    with WebApp(WebUser(Hub()), WebConfig(port=0)) as app:
        assert app.token is None and "token" not in app.url
        assert httpx.get(app.url).status_code == 200
