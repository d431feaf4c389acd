"""Error responses: validation errors with field paths, never echoing the input.

Unexpected exceptions are answered (500) and logged by ``serving.middleware``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.batching import BatcherClosedError


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors reduced to loc, msg, type (no input values, no context)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    content = jsonable_encoder({"detail": field_errors(exc.errors())})
    return JSONResponse(status_code=422, content=content)


async def _closing(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": "the service is shutting down"})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(BatcherClosedError, _closing)
