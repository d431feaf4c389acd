"""Browser sessions for the explanation page: sign in with a key, a signed expiring cookie.

Through the real app (TestClient over https, so the Secure cookie is sent back): without
a session a browser gets the login form (401), an API client the JSON 401; a good key
signs in (303, cookie flags), an unknown or risk-engine key does not; the cookie opens
the page but no other route; an expired, tampered or foreign cookie is refused, and so is
a role without explanation rights.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.auth import hash_key
from serving.sessions import COOKIE, Sessions
from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN, ANALYST, PEPPER, RISK, headers, make_settings

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def browser(settings: ServingSettings) -> Iterator[TestClient]:
    """The app as a browser reaches it: over https, cookies kept, redirects not followed."""
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        c.follow_redirects = False
        yield c


@pytest.fixture(scope="module")
def page(browser: TestClient, records: list) -> str:
    """The explanation page path of a scored declaration."""
    r = browser.post("/v1/score", json=records[5], headers=headers(RISK))
    assert r.status_code == 200, r.text
    return f"/v1/consignments/{r.json()['declaration_id']}/explanation.html"


def with_cookie(value: str) -> dict[str, str]:
    """Request headers of a browser holding session cookie ``value`` (and nothing else)."""
    return {**HTML, "Cookie": f"{COOKIE}={value}"}


def sign_in(client: TestClient, key: str, target: str = "/login"):
    client.cookies.clear()
    return client.post("/login", data={"key": key, "next": target})


def test_without_a_session_a_browser_gets_the_login_form(browser, page) -> None:
    browser.cookies.clear()
    r = browser.get(page, headers=HTML)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert 'action="/login"' in r.text
    assert f'name="next" type="hidden" value="{page}"' in r.text
    api = browser.get(page)
    assert api.status_code == 401
    assert "X-API-Key" in api.json()["detail"]


def test_signing_in_sets_a_strict_secure_cookie_and_opens_the_page(browser, page) -> None:
    r = sign_in(browser, ANALYST, page)
    assert r.status_code == 303
    assert r.headers["location"] == page
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/", "Max-Age="):
        assert flag.lower() in cookie.lower(), cookie
    value = browser.cookies[COOKIE]
    assert ANALYST not in value
    assert hash_key(ANALYST, PEPPER) not in value
    opened = browser.get(page, headers=HTML)
    assert opened.status_code == 200
    assert "Risk explanation" in opened.text
    # The session opens pages only: the JSON record and every other route want the key.
    assert browser.get(page.removesuffix("/explanation.html")).status_code == 401
    assert browser.post("/v1/admin/reload").status_code == 401
    signed = browser.get("/login")
    assert "Signed in" in signed.text
    assert "analyst" in signed.text
    out = browser.post("/logout")
    assert out.status_code == 303
    assert COOKIE not in browser.cookies
    assert browser.get(page, headers=HTML).status_code == 401


@pytest.mark.parametrize(("key", "code"), [("not-a-key", 401), (RISK, 403), ("", 401)])
def test_a_bad_key_or_role_does_not_sign_in(browser, page, key, code) -> None:
    r = sign_in(browser, key, page)
    assert r.status_code == code
    assert COOKIE not in browser.cookies
    assert 'action="/login"' in r.text


def test_admin_signs_in_too(browser, page) -> None:
    assert sign_in(browser, ADMIN, page).status_code == 303
    assert browser.get(page, headers=HTML).status_code == 200


def test_next_never_leaves_the_server(browser) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        r = sign_in(browser, ANALYST, target)
        assert r.status_code == 303
        assert r.headers["location"] == "/login", target


def _tampered(value: str) -> list[str]:
    payload, _, signature = value.partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["exp"] += 3600
    longer = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return [f"{longer}.{signature}", f"{payload}.{flipped}", payload, "", "x.y.z"]


def test_expired_tampered_or_foreign_cookies_are_refused(browser, page, settings) -> None:
    assert sign_in(browser, ANALYST, page).status_code == 303
    good = browser.cookies[COOKIE]
    sessions: Sessions = browser.app.state.sessions
    digest = hash_key(ANALYST, PEPPER)
    expired = sessions.issue(digest, now=1_000_000.0)  # long ago
    future = sessions.issue(digest, now=4_000_000_000.0)  # issued in 2096
    foreign = Sessions(b"another-server-secret-0123456789", 3600).issue(digest)
    browser.cookies.clear()
    for value in [*_tampered(good), expired, future, foreign]:
        r = browser.get(page, headers=with_cookie(value))
        assert r.status_code == 401, value
        assert 'action="/login"' in r.text
        assert "sign in again" in r.text or not value
    assert browser.get(page, headers=with_cookie(good)).status_code == 200


def test_a_role_without_explanation_rights_is_refused(browser, page) -> None:
    # A well-signed session of a risk-engine key (as if that key's role had changed).
    risky = browser.app.state.sessions.issue(hash_key(RISK, PEPPER))
    browser.cookies.clear()
    assert browser.get(page, headers=with_cookie(risky)).status_code == 403


def test_a_removed_key_ends_its_sessions(trained, tmp_path) -> None:
    def app(keys: dict[str, str]) -> TestClient:
        client = TestClient(
            create_app(make_settings(trained, tmp_path, api_keys=keys)),
            base_url="https://testserver",
        )
        client.follow_redirects = False
        return client

    with app({ANALYST: "analyst", RISK: "risk-engine"}) as first:
        assert first.post("/login", data={"key": ANALYST, "next": "/login"}).status_code == 303
        value = first.cookies[COOKIE]
    with app({RISK: "risk-engine"}) as later:
        assert "Signed in" not in later.get("/login", headers=with_cookie(value)).text
    with app({ANALYST: "analyst"}) as same:
        # the same pepper: valid across restarts (and in every worker process)
        assert "Signed in" in same.get("/login", headers=with_cookie(value)).text


def test_the_login_routes_are_not_in_the_public_schema(browser) -> None:
    paths = browser.get("/openapi.json").json()["paths"]
    assert not {"/login", "/logout"} & set(paths)
