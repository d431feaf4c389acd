"""HTML pages carry a Content-Security-Policy without external sources and the other
security headers; ``/docs`` is Swagger UI from the service's own files, and renders in a
browser that enforces that policy with no network."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest

from tests.serving.conftest import ANALYST, RISK, headers
from tests.serving.live_server import live_server

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _assert_secure_page(reply) -> None:
    assert reply.headers["content-type"].startswith("text/html")
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "http" not in policy  # no external source of anything
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "no-referrer"


def test_docs_loads_nothing_from_elsewhere(client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    _assert_secure_page(page)
    assert "<script>" not in page.text  # no inline script: the policy allows none
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert client.get("/docs/assets/..%2Fcore.py").status_code in (404, 422)


def test_the_explanation_page_carries_the_headers(client, records) -> None:
    scored = client.post("/v1/score", json=records[40], headers=headers(RISK))
    assert scored.status_code == 200
    page = client.get(
        f"/v1/consignments/{records[40]['declaration_id']}/explanation.html",
        headers=headers(ANALYST),
    )
    assert page.status_code == 200
    _assert_secure_page(page)


def test_json_answers_are_not_given_a_page_policy(client) -> None:
    reply = client.get("/healthz")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in reply.headers


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")
def test_docs_renders_in_a_browser_offline(trained, tmp_path) -> None:
    with live_server(trained, tmp_path) as server, tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                f"{server.url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # Swagger UI ran (its script came from the service, under the policy) and drew the API
    assert 'data-path="/v1/score"' in run.stdout, run.stderr[-2000:]
    assert 'data-path="/v1/control-results"' in run.stdout
