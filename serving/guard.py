"""Routes that check the API key before reading the body, cap the body per route, and
parse a large body off the event loop.

FastAPI reads and parses a route's JSON body (a body parameter) before it solves the
route's dependencies,
so with the key check as a dependency anyone could make the service parse 30 MiB of
JSON on its event loop without a key (a 2.7 s stall, measured). ``GuardedRoute`` (the
route class of every router, FastAPI's documented way to customise request handling)
checks the key for the roles the route's ``require`` dependency names before anything
else, refuses a body over the route's ``body_limit`` (413, by its ``Content-Length`` or
as it arrives) and hands the route a ``GuardedRequest``, whose ``json()`` decodes bodies
over ``IN_LOOP_BYTES`` in a worker thread. The dependency still runs (it documents the
key in the OpenAPI schema) and reuses the role found here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from serving.auth import Role, authorise

IN_LOOP_BYTES = 64 * 1024  # bodies up to this size are decoded on the event loop
F = TypeVar("F", bound=Callable[..., Any])


def body_limit(limit: int) -> Callable[[F], F]:
    """Mark a route's endpoint as taking bodies of at most ``limit`` bytes."""

    def mark(endpoint: F) -> F:
        endpoint.body_limit = limit  # type: ignore[attr-defined]
        return endpoint

    return mark


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"request body larger than {limit} bytes"
    )


class GuardedRequest(Request):
    """A request whose body is capped and whose large JSON is decoded in a thread."""

    limit: int | None = None

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if self.limit is not None and size > self.limit:
                    raise too_large(self.limit)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > IN_LOOP_BYTES:
                self._json = await asyncio.to_thread(json.loads, body)
            else:
                self._json = json.loads(body)
        return self._json


def required_roles(dependant: Dependant) -> tuple[Role, ...]:
    """The roles named by the ``serving.auth.require`` dependency among ``dependant``'s."""
    for sub in dependant.dependencies:
        roles = getattr(sub.call, "roles", None)
        if roles is not None:
            return tuple(roles)
        found = required_roles(sub)
        if found:
            return found
    return ()


class GuardedRoute(APIRoute):
    """An APIRoute checking the key first, with a capped, off-loop-decoded body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # only a route with a body field has it read before its dependencies run
        roles = required_roles(self.dependant) if self.body_field is not None else ()
        limit: int | None = getattr(self.endpoint, "body_limit", None)

        async def guarded(request: Request) -> Response:
            if roles:
                authorise(request, roles)
            if limit is not None:
                length = request.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise too_large(limit)
            guarded_request = GuardedRequest(request.scope, request.receive)
            guarded_request.limit = limit
            return await handler(guarded_request)

        return guarded
