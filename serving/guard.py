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
over ``IN_LOOP_BYTES`` in a worker thread. When the route's body is a pydantic model
(control results), a body over ``IN_LOOP_BYTES`` is also validated in that thread: FastAPI
then receives the model instance, which it accepts as is (10,000 control results took
0.3 s to validate, measured on a busy 2-core machine). The dependency still runs (it
documents the key in the OpenAPI schema) and reuses the role found here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

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

    async def validate_large(self, model: type[BaseModel]) -> None:
        """Decode and validate a JSON body over ``IN_LOOP_BYTES`` into ``model`` in a
        thread (what ``json()`` then returns); errors as FastAPI's (422, 400)."""
        if not _is_json(self.headers.get("content-type")):
            return  # FastAPI refuses it as it would
        body = await self.body()
        if len(body) > IN_LOOP_BYTES:
            self._json = await asyncio.to_thread(_decode_validate, body, model)

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > IN_LOOP_BYTES:
                self._json = await asyncio.to_thread(json.loads, body)
            else:
                self._json = json.loads(body)
        return self._json


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of ``content_type`` as JSON (none: yes)."""
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _decode_validate(body: bytes, model: type[BaseModel]) -> BaseModel:
    """``body`` decoded and validated as ``model``; errors as FastAPI gives them."""
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
        ) from None
    except (ValueError, RecursionError):  # not UTF-8, nested too deeply
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "There was an error parsing the body"
        ) from None
    try:
        return model.model_validate(parsed)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            ]
        ) from None


def body_model(route: APIRoute) -> type[BaseModel] | None:
    """The pydantic model a route's body is validated into, if it is one."""
    if route.body_field is None:
        return None
    annotation = route.body_field.field_info.annotation
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


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
        model = body_model(self)

        async def guarded(request: Request) -> Response:
            if roles:
                authorise(request, roles)
            if limit is not None:
                length = request.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise too_large(limit)
            guarded_request = GuardedRequest(request.scope, request.receive)
            guarded_request.limit = limit
            if model is not None:
                await guarded_request.validate_large(model)
            return await handler(guarded_request)

        return guarded
