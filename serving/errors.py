"""Error responses: validation errors with field paths, never echoing the input.

A failing storage (``serving.storage.is_storage_failure``: disk full, I/O error,
read-only, locked) is answered 503 with ``Retry-After``: the request was not
done (a decision is answered only once logged) and may be sent again. Unexpected
exceptions are answered (500) and logged by ``serving.middleware``.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.batching import BatcherClosedError
from serving.storage import is_storage_failure

logger = logging.getLogger("serving.errors")
RETRY_AFTER_SECONDS = 5


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors reduced to loc, msg, type (no input values, no context)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    content = jsonable_encoder({"detail": field_errors(exc.errors())})
    return JSONResponse(status_code=422, content=content)


async def _closing(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": "the service is shutting down"})


async def _storage(request: Request, exc: Exception) -> JSONResponse:
    if not is_storage_failure(exc):
        raise exc  # not the storage's doing: an internal error (500, logged by the middleware)
    logger.error("storage failure, answered 503: %s: %s", type(exc).__name__, exc)
    return JSONResponse(
        status_code=503,
        content={"detail": f"storage unavailable ({exc}); nothing was recorded, retry later"},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(BatcherClosedError, _closing)
    app.add_exception_handler(sqlite3.OperationalError, _storage)
    app.add_exception_handler(OSError, _storage)
