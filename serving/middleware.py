"""Request ids, access log lines, HTTP metrics and a body size limit (pure ASGI).

The access log holds no personal data: request id, method, route *template*
(``/v1/consignments/{declaration_id}``, never the id itself), status and duration.
Metric labels come from closed sets, so no client can grow ``/metrics``: the method
if it is a standard one (else ``other``), the route template of a route of the app
(``/openapi.json`` and ``/docs`` too; a path no route matches is ``unmatched``), and
a standard status code (else ``other``).
The request id is the client's ``X-Request-ID`` when it is a plain token, else a
fresh one; it comes back in the response header. While the app drains (``serving.drain``) every
answer says ``Connection: close``. Every answer says ``X-Content-Type-Options: nosniff``
and HTML pages get a Content-Security-Policy without external sources, ``X-Frame-Options``
and ``Referrer-Policy`` (``security_headers``). The body size limit holds for every
request: one whose ``Content-Length`` is over it is answered 413 unread, and the bytes
of any body (a chunked upload has no ``Content-Length``) are counted as the app reads
them, which is answered 413 as soon as they pass the limit (and a body that stops
arriving for ``body_timeout_s`` is answered 408), before anything is done
with the request (unless the app had already started its answer). An unexpected
exception is answered with a bare 500 and logged with its type and traceback but not
its message, which may quote the data.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.drain import Drain
from serving.ids import IdGenerator
from serving.metrics import Metrics

logger = logging.getLogger("serving.access")
REQUEST_ID_HEADER = "x-request-id"
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUSES = frozenset(str(s.value) for s in HTTPStatus)
OTHER = "other"
UNMATCHED = "unmatched"


def request_id_of(scope: Scope) -> str:
    """The id this middleware gave the request."""
    return scope.get("state", {}).get("request_id", "-")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


# Pages are self-contained (inline CSS and SVG; /docs loads Swagger UI's files from here):
# nothing may come from elsewhere, be framed, or leak the page's address on a link.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
HTML_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers to add to a response with ``headers``: ``nosniff`` on every answer, and on
    HTML pages a Content-Security-Policy without external sources, no framing, no
    referrer (a header the app set itself is kept)."""
    present = {name.lower(): value for name, value in headers}
    added = (
        [] if b"x-content-type-options" in present else [(b"x-content-type-options", b"nosniff")]
    )
    if present.get(b"content-type", b"").lower().startswith(b"text/html"):
        added.extend((name, value) for name, value in HTML_HEADERS if name not in present)
    return added


def method_label(scope: Scope) -> str:
    """The request method as a metric label: a standard method, else ``other``."""
    method = scope.get("method", "")
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    """A status code as a metric label: a standard code, else ``other``."""
    code = str(status)
    return code if code in STATUSES else OTHER


def route_label(scope: Scope) -> str:
    """The template of the route that took the request (``unmatched`` when none did).

    FastAPI's routes put themselves in the scope; Starlette's (``/openapi.json``,
    ``/docs``) only their endpoint, found back among the app's routes."""
    route = scope.get("route")
    if route is not None:
        # path_format: the template without converters ("{declaration_id}", not ":path")
        return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))
    endpoint = scope.get("endpoint")
    app = scope.get("app")
    if endpoint is not None and app is not None:
        for candidate in getattr(app, "routes", ()):
            if getattr(candidate, "endpoint", None) is endpoint:
                return str(getattr(candidate, "path_format", None) or candidate.path)
    return UNMATCHED


class BodyTooLargeError(Exception):
    """Raised to the app reading a request body past the size limit, to stop it there."""


class BodyTimeoutError(Exception):
    """Raised to the app waiting for a body that stopped arriving, to stop it there."""


class RequestMiddleware:
    """Wraps every HTTP request: id, size limit, metrics, one log line."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        max_body_bytes: int,
        drain: Drain | None = None,
        body_timeout_s: float = 30.0,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.drain = drain
        self.body_timeout_s = body_timeout_s
        self._ids = IdGenerator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _TOKEN.match(given) else self._ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        began = time.perf_counter()
        status = [500]
        started = [False]
        received = [0]
        over = [False]  # the body passed the limit: the answer is 413, whatever the app says
        replaced = [False]  # the app's answer was replaced by the 413 (or 408)
        body_done = [False]  # the last part of the body has been received
        stalled = [False]  # the body stopped arriving: the answer is 408

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                headers.extend(security_headers(headers))
                if self.drain is not None and self.drain.draining:
                    headers.append((b"connection", b"close"))  # come back on a new connection
                message = {**message, "headers": headers}
            await send(message)

        async def send_with_id(message: Message) -> None:
            if replaced[0]:
                return  # the rest of the app's answer to a body it could not read whole
            if message["type"] == "http.response.start" and over[0]:
                replaced[0] = True  # e.g. FastAPI turning the BodyTooLargeError into a 400
                await _too_large(send_tagged, self.max_body_bytes)
                return
            if message["type"] == "http.response.start" and stalled[0]:
                replaced[0] = True
                await _too_slow(send_tagged, self.body_timeout_s)
                return
            await send_tagged(message)

        async def receive_limited() -> Message:
            if over[0]:
                raise BodyTooLargeError
            if body_done[0]:  # e.g. waiting for a disconnect: no deadline
                message = await receive()
            else:
                try:
                    async with asyncio.timeout(self.body_timeout_s):  # no task, unlike wait_for
                        message = await receive()
                except TimeoutError:
                    stalled[0] = True
                    raise BodyTimeoutError from None
                body_done[0] = not message.get("more_body", False)
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body_bytes:
                    over[0] = True
                    raise BodyTooLargeError
            return message

        try:
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await _too_large(send_tagged, self.max_body_bytes)
            else:
                await self.app(scope, receive_limited, send_with_id)
        except Exception as exc:
            if over[0]:  # the client's doing, not an internal error
                if not started[0]:
                    replaced[0] = True
                    await _too_large(send_tagged, self.max_body_bytes)
                return
            if stalled[0]:
                if not started[0]:
                    replaced[0] = True
                    await _too_slow(send_tagged, self.body_timeout_s)
                return
            logger.error(
                "%s failed: %s (message withheld)\n%s",
                request_id,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            status[0] = 500
            if not started[0]:
                await _send_json(send_tagged, 500, b'{"detail":"internal error"}')
        finally:
            template = route_label(scope)
            elapsed = time.perf_counter() - began
            method = method_label(scope)
            self.metrics.requests.labels(method, template, status_label(status[0])).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            logger.info(
                "%s %s %s %d %.1fms", request_id, method, template, status[0], elapsed * 1000
            )


async def _send_json(send: Any, status: int, body: bytes, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json")]
    if close:  # the rest of the request will not be read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_slow(send: Any, seconds: float) -> None:
    detail = f'{{"detail":"request body stalled: nothing received for {seconds:g} s"}}'
    await _send_json(send, 408, detail.encode(), close=True)


async def _too_large(send: Any, limit: int) -> None:
    await _send_json(send, 413, f'{{"detail":"request body larger than {limit} bytes"}}'.encode())
