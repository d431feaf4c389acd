"""``GET /v1/consignments/{declaration_id}`` (the logged decision) and its explanation page.

A declaration id may hold "/" (``NL/2025/001``), sent as is or as ``%2F``: both routes
take the id with Starlette's ``path`` converter. The explanation route is registered
first, so ``.../NL/2025/001/explanation.html`` is the page of ``NL/2025/001``; an id
that itself ends in ``/explanation.html`` can therefore only be read through its page.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import HTMLResponse

from serving.auth import Analyst
from serving.deps import ModelDep, StateDep
from serving.guard import GuardedRoute
from serving.schemas import DecisionRecordOut, ErrorOut
from serving.sessions import AnalystPage

router = APIRouter(prefix="/v1/consignments", tags=["consignments"], route_class=GuardedRoute)
DeclarationId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$",
        description='Declaration reference; a "/" in it may be sent as is or as %2F.',
        examples=["25NLI000000026999"],
    ),
]
JSON = {"application/json": {}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "content": JSON, "description": "Missing or unknown API key."},
    403: {"model": ErrorOut, "content": JSON, "description": "The key's role may not read it."},
    404: {"model": ErrorOut, "content": JSON, "description": "No decision on this declaration."},
    422: {"model": ErrorOut, "content": JSON, "description": "Invalid declaration id."},
}


async def _record(state: StateDep, declaration_id: str) -> dict[str, Any]:
    record = await asyncio.to_thread(state.log.latest, declaration_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no decision on this declaration")
    return record


@router.get(
    "/{declaration_id:path}/explanation.html",
    response_class=HTMLResponse,
    responses={
        **ERRORS,
        200: {"content": {"text/html": {}}, "description": "The explanation page."},
        503: {
            "model": ErrorOut,
            "content": JSON,
            "description": "The explanation renderer is not installed.",
        },
    },
)
async def explanation(
    declaration_id: DeclarationId, state: StateDep, model: ModelDep, _role: AnalystPage
) -> HTMLResponse:
    """An officer-readable page explaining the latest decision on the declaration. Opened
    with an analyst key in ``X-API-Key``, or in a browser after signing in at ``/login``."""
    try:
        render = importlib.import_module("serving.explain").render_explanation
    except (ImportError, AttributeError):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "explanation pages are not available: serving.explain.render_explanation"
            " is not installed in this deployment",
        ) from None
    record = await _record(state, declaration_id)
    html = await asyncio.to_thread(render, record, model.scorer, model.ref.version)
    return HTMLResponse(html)


@router.get("/{declaration_id:path}", response_model=DecisionRecordOut, responses=ERRORS)
async def consignment(
    declaration_id: DeclarationId, state: StateDep, _role: Analyst
) -> dict[str, Any]:
    """The latest decision on the declaration, as the decision log holds it."""
    return await _record(state, declaration_id)
