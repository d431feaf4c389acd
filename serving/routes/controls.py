"""``POST /v1/control-results``: outcomes of controls, kept for retraining."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, status

from serving.auth import Analyst
from serving.controls import ControlConflictError, Stored
from serving.deps import StateDep
from serving.guard import GuardedRoute, body_limit
from serving.schemas import ControlResultsRequest, ControlResultsResponse, ErrorOut
from serving.state import AppState

router = APIRouter(prefix="/v1", tags=["control results"], route_class=GuardedRoute)
RESULTS_BYTES = 16 * 1024 * 1024  # 10,000 results with notes fit


def _record(state: AppState, body: ControlResultsRequest) -> list[Stored]:
    return state.controls.record([r.model_dump(mode="json") for r in body.results])


@router.post(
    "/control-results",
    response_model=ControlResultsResponse,
    responses={
        400: {"model": ErrorOut, "description": "The body could not be parsed."},
        401: {"model": ErrorOut, "description": "Missing or unknown API key."},
        403: {"model": ErrorOut, "description": "The key's role may not record results."},
        409: {"model": ErrorOut, "description": "A control id is recorded with other content."},
        422: {"model": ErrorOut, "description": "Invalid results (field paths in detail)."},
    },
)
@body_limit(RESULTS_BYTES)
async def control_results(
    body: ControlResultsRequest, state: StateDep, _role: Analyst
) -> dict[str, Any]:
    """Record results, idempotent by control id: a repeat with the same content is
    acknowledged as unchanged; other content under a known id is refused (409) and
    nothing of the request is written."""
    try:  # dumped in the thread too: 10,000 results are tens of milliseconds
        stored = await asyncio.to_thread(_record, state, body)
    except ControlConflictError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"message": str(exc), "control_ids": exc.control_ids},
        ) from None
    return {"results": [{"control_id": s.control_id, "status": s.status} for s in stored]}
