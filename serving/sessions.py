"""Browser sessions for the officers' HTML pages: a signed, expiring cookie instead of a header.

A browser cannot send ``X-API-Key``. An officer signs in at ``GET /login`` with the key
(``serving.routes.login``); the answer sets a cookie that is ``Secure``, ``HttpOnly``,
``SameSite=Strict`` and ``__Host-`` prefixed, holding::

    base64url({"v": 1, "kid": ..., "iat": ..., "exp": ...}) "." base64url(HMAC-SHA256)

``kid`` is an HMAC of the key's stored digest under the session secret: neither the key
nor its digest is in the cookie, and the session ends when the key is removed. The role
is read from the key ring at every request (not from the cookie), and the signature is
checked in constant time. The cookie is accepted only where ``PageReader`` is the
dependency, i.e. the GET-only HTML pages; every state-changing route keeps the header
key (so no CSRF token is needed).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable
from hashlib import sha256
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyCookie, APIKeyHeader

from serving.auth import API_KEY_HEADER, KeyRing, grants, require
from serving.settings import Role, ServingSettings

COOKIE = "__Host-targeting-session"
VERSION = 1
CLOCK_SKEW_S = 60  # a cookie issued up to this far in the future is still accepted
_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="API key; its role grants access."
)
_cookie = APIKeyCookie(
    name=COOKIE, auto_error=False, description="Browser session from /login (HTML pages only)."
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and verifies session cookies with one secret and one lifetime."""

    def __init__(self, secret: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.ttl_s = int(ttl_s)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> Sessions:
        """The settings' ``session_secret``, else a key derived from the API key pepper
        (shared by every worker); a random one when neither is set (no keys: no login)."""
        secret = settings.session_secret.get_secret_value().encode()
        pepper = settings.api_key_pepper.get_secret_value().encode()
        if not secret:
            secret = (
                hmac.new(pepper, b"targeting browser sessions v1", sha256).digest()
                if pepper
                else os.urandom(32)
            )
        return cls(secret, settings.session_ttl_s)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), sha256).digest())

    def _kid(self, digest: str) -> str:
        return hmac.new(self._secret, b"kid:" + digest.encode(), sha256).hexdigest()[:32]

    def issue(self, digest: str, now: float | None = None) -> str:
        """A cookie value for the key whose stored digest is ``digest``."""
        issued = int(self._clock() if now is None else now)
        body = {"v": VERSION, "kid": self._kid(digest), "iat": issued, "exp": issued + self.ttl_s}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def expires(self, token: str) -> int | None:
        """The expiry (epoch seconds) of a well-signed ``token``, else None."""
        body = self._body(token)
        return None if body is None else int(body["exp"])

    def _body(self, token: str) -> dict[str, Any] | None:
        payload, _, signature = token.partition(".")
        if not payload or not signature:
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            body = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        ok = (
            isinstance(body, dict)
            and body.get("v") == VERSION
            and isinstance(body.get("kid"), str)
            and all(isinstance(body.get(k), int) for k in ("iat", "exp"))
        )
        return body if ok else None

    def verify(self, token: str, ring: KeyRing) -> Role | None:
        """The role of a valid, unexpired session of a key still in ``ring``; else None."""
        body = self._body(token)
        if body is None:
            return None
        now = self._clock()
        if not (body["iat"] - CLOCK_SKEW_S <= now < body["exp"]):
            return None
        found = None
        for digest, role in ring.entries():
            if hmac.compare_digest(self._kid(digest), body["kid"]):
                found = role
        return found


class LoginRequiredError(Exception):
    """No usable session nor key on a page request: answered with the login page (401)."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.message = message


def page_reader(*needed: Role) -> Callable[..., Awaitable[Role]]:
    """A dependency for HTML pages: the ``X-API-Key`` header as everywhere, else a session
    cookie; a role without one of ``needed`` (nor admin) gets 403. Without either, a
    browser gets the login page (401), other clients the usual JSON 401."""
    by_header = require(*needed)

    async def check(
        request: Request,
        key: Annotated[str | None, Security(_header)] = None,
        cookie: Annotated[str | None, Security(_cookie)] = None,
    ) -> Role:
        if key:
            return await by_header(request, key)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not cookie:
            raise LoginRequiredError(target, "Sign in with your API key to open this page.")
        sessions: Sessions = request.app.state.sessions
        role = sessions.verify(cookie, request.app.state.keys)
        if role is None:
            raise LoginRequiredError(
                target, "Your session has expired or is not valid: sign in again."
            )
        if not any(grants(role, n) for n in needed):
            wanted = " or ".join(n.value for n in needed)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this key's role ({role.value}) may not: needs {wanted}"
            )
        return role

    return check


AnalystPage = Annotated[Role, Depends(page_reader(Role.ANALYST))]
