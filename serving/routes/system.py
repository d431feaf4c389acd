"""Health, readiness, metrics, and the model in service."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.auth import AnyRole, RiskEngine, authorise, bearer_or_header
from serving.deps import ModelDep, StateDep
from serving.guard import GuardedRoute
from serving.schemas import ErrorOut, HealthOut, ModelInfoOut, ReadyOut
from serving.settings import Role

router = APIRouter(tags=["system"], route_class=GuardedRoute)


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={
        503: {
            "model": ReadyOut,
            "description": "No model loaded, the decision log cannot be written, or the"
            " service is draining before it stops (SIGTERM).",
        }
    },
)
async def readyz(request: Request) -> Any:
    """A model is loaded and the decision log takes writes; which execution provider
    the model runs on. While the log's last write failed, each call tries a small write
    to see whether it came back."""
    state = getattr(request.app.state, "serving", None)
    if state is None:
        return JSONResponse(status_code=503, content={"ready": False})
    if request.app.state.drain.draining:
        return JSONResponse(status_code=503, content={"ready": False, "draining": True})
    model = state.holder.current
    db = state.log.db
    failure = None if db.last_error is None else await asyncio.to_thread(db.health)
    content = {
        "ready": failure is None,
        "model": model.ref.as_dict(),
        "provider": model.scorer.provider,
        "decision_log": {"ok": failure is None, "error": failure},
    }
    return JSONResponse(status_code=200 if failure is None else 503, content=content)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
        401: {"model": ErrorOut, "description": "Missing or unknown key (when one is required)."},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process. They show the selection threshold and the score
    distribution: a key of any role is required (``X-API-Key`` or ``Authorization: Bearer``)
    unless ``TARGETING_METRICS_REQUIRE_KEY=false`` or ``TARGETING_ENVIRONMENT=development``."""
    if request.app.state.metrics_key_required:
        authorise(request, (Role.RISK_ENGINE, Role.ANALYST), bearer_or_header(request))
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/model",
    response_model=ModelInfoOut,
    responses={401: {"model": ErrorOut, "description": "Missing or unknown API key."}},
)
async def model_info(state: StateDep, model: ModelDep, _role: AnyRole) -> dict[str, Any]:
    """The model in service, its provider and the selection policy's state."""
    manifest = model.scorer.manifest
    selector = state.engine.peek_selector(model)
    rate = selector.selection_rate
    policy = state.engine.policy
    return {
        **model.ref.as_dict(),
        "source": model.source,
        "feature_spec_hash": model.feature_spec_hash,
        "provider": model.scorer.provider,
        "loaded_at": model.loaded_at.isoformat(),
        "training_window": manifest.get("training_window", {}),
        "bands": manifest.get("bands", {}),
        "git_commit": manifest.get("git_commit"),
        "selection": {
            "inspection_rate": policy.inspection_rate,
            "exploration_share": policy.exploration_share,
            "model_rate": policy.model_rate,
            "random_probability": policy.random_probability,
            "threshold": selector.threshold if math.isfinite(selector.threshold) else None,
            "warm": selector.warm,
            "recent_selection_rate": None if math.isnan(rate) else rate,
        },
    }


@router.post("/v1/noop", response_model=HealthOut, include_in_schema=False)
async def noop(_role: RiskEngine) -> dict[str, str]:
    """An authenticated POST that does nothing: the baseline of the latency benchmark
    (``benchmarks/serving.py``) and a probe of the request path without scoring. Not in
    the public OpenAPI schema: a benchmark probe, not part of the API."""
    return {"status": "ok"}
