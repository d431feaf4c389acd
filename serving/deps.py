"""Typed dependencies of the routes: the app state, the serving model, the request id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from serving.middleware import request_id_of
from serving.model_holder import LoadedModel
from serving.state import AppState


async def get_state(request: Request) -> AppState:
    """The state the lifespan built (503 before start-up completed or after shutdown)."""
    state = getattr(request.app.state, "serving", None)
    if state is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the service is not started")
    return state


async def get_model(state: Annotated[AppState, Depends(get_state)]) -> LoadedModel:
    return state.holder.current


async def get_request_id(request: Request) -> str:
    return request_id_of(request.scope)


StateDep = Annotated[AppState, Depends(get_state)]
ModelDep = Annotated[LoadedModel, Depends(get_model)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
