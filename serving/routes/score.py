"""``POST /v1/score`` and ``POST /v1/score/batch``: decisions on declarations."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
from pydantic import ValidationError

from serving.auth import RiskEngine
from serving.batch_body import read_batch
from serving.deps import RequestIdDep, StateDep
from serving.engine import Outcome, ScoreJob, request_hash
from serving.ens_status import NOT_SENT, not_sent_warning
from serving.examples import EXAMPLE_DECLARATION
from serving.guard import GuardedRoute, body_limit
from serving.schemas import (
    DECLARATION,
    BatchScoreResponse,
    Declaration,
    ErrorOut,
    ScoreResponse,
    batch_request_schema,
    declaration_json,
    scoring_record,
)

router = APIRouter(prefix="/v1", tags=["scoring"], route_class=GuardedRoute)
DECLARATION_BYTES = 8 * 1024 * 1024  # a declaration with 1,000 ENS items of long texts fits
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body could not be parsed."},
    401: {"model": ErrorOut, "description": "Missing or unknown API key."},
    403: {"model": ErrorOut, "description": "The key's role may not score."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {"model": ErrorOut, "description": "Invalid request (field paths in detail)."},
}
IN_LOOP_BYTES = 64 * 1024  # larger batch bodies are read in a thread
ReasonsFlag = Annotated[
    bool | None,
    Query(description="Include reasons (default: the service setting); false is faster."),
]


def score_job(declarations: list[Any], request_id: str, reasons: bool) -> ScoreJob:
    """The engine's job for validated declarations: scoring records, stored JSON, hashes."""
    stored = [declaration_json(d) for d in declarations]
    return ScoreJob(
        records=[scoring_record(d) for d in declarations],
        stored=stored,
        hashes=[request_hash(s) for s in stored],
        request_id=request_id,
        reasons=reasons,
    )


def _validate(items: list[Any]) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """The valid items, their indices, and the errors of the others (``ItemError`` dicts)."""
    valid: list[Any] = []
    index: list[int] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            valid.append(DECLARATION.validate_python(item))
            index.append(i)
        except ValidationError as exc:
            errors.extend(
                {"index": i, "loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            )
    return valid, index, errors


def _without_repeats(
    valid: list[Any], index: list[int], errors: list[dict[str, Any]]
) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """A declaration id sent twice in one batch is scored once (its first item); the
    others are reported, as their decisions would be two records of one declaration."""
    first: dict[str, int] = {}
    keep: list[int] = []
    for k, (declaration, i) in enumerate(zip(valid, index, strict=True)):
        seen = first.setdefault(declaration["declaration_id"], i)
        if seen == i:
            keep.append(k)
        else:
            errors.append(
                {
                    "index": i,
                    "loc": ["declaration_id"],
                    "msg": f"declaration_id repeats item {seen} of this batch",
                    "type": "duplicate_declaration",
                }
            )
    if len(keep) == len(valid):
        return valid, index, errors
    errors.sort(key=lambda e: e["index"])
    return [valid[k] for k in keep], [index[k] for k in keep], errors


def answer(o: Outcome) -> dict[str, Any]:
    """The API answer for one decision (a ``ScoreResponse``), from its log record."""
    r = o.record
    return {
        "decision_id": r.decision_id,
        "declaration_id": r.declaration_id,
        "score": r.score,
        "expected_revenue": r.expected_revenue,
        "risk_band": r.risk_band,
        "risk_type": r.risk_type,
        "decision": {"selected": r.selected, "basis": r.basis, "propensity": r.propensity},
        "reasons": r.reasons if o.show_reasons else None,
        "model": o.model,
        "ens_status": o.ens_status,
        "warnings": [not_sent_warning(_ens_id(r.declaration))] if o.ens_status == NOT_SENT else [],
    }


def _ens_id(stored: bytes) -> object:
    """The ``ens_id`` of a stored declaration (read only for the rare not-sent answer)."""
    return json.loads(stored).get("ens_id")


@router.post(
    "/score",
    response_model=ScoreResponse,
    responses=ERRORS,
    summary="Score one declaration and decide whether to control it",
)
@body_limit(DECLARATION_BYTES)
async def score(
    declaration: Annotated[
        Declaration,  # type: ignore[valid-type]
        Body(
            openapi_examples={
                "declaration with ENS": {
                    "summary": "An air consignment with its pre-loading and full ENS",
                    "value": EXAMPLE_DECLARATION,
                }
            }
        ),
    ],
    state: StateDep,
    request_id: RequestIdDep,
    _role: RiskEngine,
    reasons: ReasonsFlag = None,
) -> ORJSONResponse:
    """Score, decide (model threshold or random arm) and log the decision durably before
    answering."""
    want = state.settings.reasons if reasons is None else reasons
    outcomes = await state.batcher.submit(score_job([declaration], request_id, want), rows=1)
    return ORJSONResponse(answer(outcomes[0]))  # built by the engine: no re-validation


@router.post(
    "/score/batch",
    response_model=BatchScoreResponse,
    responses=ERRORS,
    summary="Score up to 10,000 declarations; invalid ones are reported, not scored",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": batch_request_schema()}},
        }
    },
)
async def score_batch(
    request: Request,
    state: StateDep,
    request_id: RequestIdDep,
    _role: RiskEngine,
    reasons: ReasonsFlag = None,
) -> ORJSONResponse:
    """Each declaration is validated on its own: errors carry its index and field path;
    the valid ones are scored together and their decisions logged in one transaction."""
    body = await request.body()
    content_type = request.headers.get("content-type")
    want = state.settings.reasons if reasons is None else reasons
    if len(body) > IN_LOOP_BYTES:  # keep the event loop free for other requests
        job, index, errors = await asyncio.to_thread(
            _read, body, content_type, state.settings.max_batch_declarations, request_id, want
        )
    else:
        job, index, errors = _read(
            body, content_type, state.settings.max_batch_declarations, request_id, want
        )
    if errors:
        state.metrics.invalid.inc(len({e["index"] for e in errors}))
    results: list[dict[str, Any]] = []
    model = None
    if job is not None:
        outcomes = await state.batcher.submit(job, rows=len(index))
        results = [{"index": i, **answer(o)} for i, o in zip(index, outcomes, strict=True)]
        model = outcomes[0].model
    # orjson: ~25 times faster than json.dumps on 1,000 answers (scores are finite)
    return ORJSONResponse({"results": results, "errors": errors, "model": model})


def _read(
    body: bytes, content_type: str | None, limit: int, request_id: str, reasons: bool
) -> tuple[ScoreJob | None, list[int], list[dict[str, Any]]]:
    """The job of a batch body's valid declarations, their indices, and the errors."""
    items = read_batch(body, content_type)
    if len(items.declarations) > limit:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "declarations"),
                    "msg": f"List should have at most {limit} items",
                    "type": "too_long",
                }
            ]
        )
    if items.valid:
        found = items.declarations, list(range(len(items.declarations))), []
    else:
        found = _validate(items.declarations)
    valid, index, errors = _without_repeats(*found)
    return (score_job(valid, request_id, reasons) if valid else None), index, errors
