"""The explanation page in a real browser: headless Chromium signs in through the login form.

A real server (uvicorn on a loopback port, the session's trained bundle) and Chromium
driven over the DevTools pipe: the page without a session shows the login form (401);
typing an analyst key and submitting sets an HttpOnly, Secure, SameSite=Strict cookie
and lands on the page (303 then 200), which renders to a real screenshot. Skipped where
no Chromium binary is installed (``scripts/render_explanation.sh`` installs one).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from serving.app import create_app
from serving.sessions import COOKIE
from tests.serving.conftest import ANALYST, RISK, headers, make_settings
from tests.serving.test_explain_render import CHROMIUM, pixels_near

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory) -> Iterator[str]:
    """The service on 127.0.0.1 (a free port), in a thread; its base URL."""
    settings = make_settings(trained, tmp_path_factory.mktemp("browser"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        assert thread.is_alive(), "server stopped"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def page(server, records) -> str:
    """The explanation page URL of a declaration scored through the API."""
    import httpx

    r = httpx.post(f"{server}/v1/score", json=records[7], headers=headers(RISK), timeout=60)
    assert r.status_code == 200, r.text
    return f"{server}/v1/consignments/{r.json()['declaration_id']}/explanation.html"


def type_and_submit(key: str) -> str:
    return (
        f"document.querySelector('input[name=key]').value = {json.dumps(key)};"
        " document.querySelector('form').submit(); true"
    )


def test_chromium_signs_in_and_opens_the_page(page: str, tmp_path: Path) -> None:
    from PIL import Image

    from tests.serving.cdp import Chromium

    with Chromium(str(CHROMIUM)) as browser:
        browser.goto(page)
        assert browser.documents() == [(page, 401)]
        form = browser.html()
        assert 'action="/login"' in form
        assert "Risk explanation" not in form
        browser.load(lambda: browser.evaluate(type_and_submit(ANALYST)))
        origin = page.split("/v1/")[0]
        assert browser.redirects() == [(f"{origin}/login", 303)]
        assert browser.documents() == [(page, 200)]
        shown = browser.html()
        assert "Risk explanation · declaration" in shown
        assert 'id="waterfall"' in shown
        (cookie,) = [c for c in browser.cookies() if c["name"] == COOKIE]
        assert cookie["httpOnly"]
        assert cookie["secure"]
        assert cookie["sameSite"] == "Strict"
        assert ANALYST not in cookie["value"]
        png = browser.screenshot(tmp_path / "page.png")
        # a tampered cookie: back to the login form
        browser.call(
            "Network.setCookie",
            session=browser.tab,
            **{k: cookie[k] for k in ("name", "path", "secure", "httpOnly", "sameSite")},
            url=page,
            value=cookie["value"][:-3] + "AAA",
        )
        browser.goto(page)
        assert browser.documents() == [(page, 401)]
        assert 'action="/login"' in browser.html()
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape[1] == 1280
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200
    assert pixels_near(image, (0x1F, 0x4E, 0x79)) > 30_000  # the header band was styled
    assert pixels_near(image, (0xC6, 0x28, 0x28)) > 1_000  # red waterfall bars were drawn


def test_a_risk_engine_key_cannot_sign_in(page: str) -> None:
    from tests.serving.cdp import Chromium

    with Chromium(str(CHROMIUM)) as browser:
        browser.goto(page)
        browser.load(lambda: browser.evaluate(type_and_submit(RISK)))
        assert browser.redirects() == []
        assert [status for _, status in browser.documents()] == [403]
        assert "may not open explanation pages" in browser.html()
        assert not [c for c in browser.cookies() if c["name"] == COOKIE]
