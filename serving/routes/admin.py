"""``POST /v1/admin/reload``: swap to a new model without failing a request."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from serving.auth import Admin
from serving.deps import StateDep
from serving.guard import GuardedRoute, body_limit
from serving.lifecycle import reload_model
from serving.model_holder import ModelLoadError
from serving.schemas import ErrorOut, ModelRefOut, ReloadRequest

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=GuardedRoute)
RELOAD_BYTES = 64 * 1024


@router.post(
    "/reload",
    response_model=ModelRefOut,
    responses={
        400: {"model": ErrorOut, "description": "The body could not be parsed."},
        401: {"model": ErrorOut, "description": "Missing or unknown API key."},
        403: {"model": ErrorOut, "description": "Only admin keys may reload."},
        409: {"model": ErrorOut, "description": "Bundle refused; the previous model serves."},
    },
)
@body_limit(RELOAD_BYTES)
async def reload(state: StateDep, _role: Admin, body: ReloadRequest | None = None) -> Any:
    """Load, validate (checksums, feature spec hash, smoke test) and swap in the model at
    ``model_uri`` (default: the configured URI). In-flight requests finish on the old
    model; a refused bundle leaves the old one serving."""
    try:
        model = await reload_model(state, body.model_uri if body else None)
    except ModelLoadError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return model.ref.as_dict()
