"""``create_app(settings)``: the FastAPI application of the targeting service.

The lifespan loads the model (unless the caller already did), opens the decision log
and starts the micro-batcher, keeping them in one ``AppState`` at ``app.state.serving``;
routers stay thin and reach it through typed dependencies (``serving.deps``).
``uvicorn --factory --no-access-log serving.app:app_from_env`` builds it from
``TARGETING_*`` variables (``targeting serve`` does the same): uvicorn's own access log
would write request paths, which carry declaration ids, into the logs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving import errors
from serving.auth import KeyRing
from serving.lifecycle import start_polling
from serving.metrics import Metrics
from serving.middleware import RequestMiddleware
from serving.model_holder import LoadedModel
from serving.routes import admin, consignments, controls, score, system
from serving.settings import ServingSettings
from serving.state import close_state, open_state

DESCRIPTION = """
Scores customs declarations (their ENS optionally embedded) for the risk of an
irregularity, decides which to control within the inspection budget (a model arm and
a random arm, with the propensity of each decision), explains every score with reason
codes, and logs each decision durably before answering. Send an API key in the
`X-API-Key` header: risk-engine keys score, analyst keys read decisions and record
control results, admin keys reload the model and may do everything.
"""


def create_app(settings: ServingSettings, model: LoadedModel | None = None) -> FastAPI:
    """The app; ``model`` skips loading at start-up (the CLI loads first to fail fast)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await open_state(settings, metrics, model)
        app.state.serving = state
        start_polling(state)
        try:
            yield
        finally:
            app.state.serving = None
            await close_state(state)

    app = FastAPI(
        title="targeting",
        version="1",
        summary="Customs risk targeting: scores, selection decisions, reasons.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.keys = KeyRing.from_settings(settings)
    app.state.serving = None
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (score, consignments, controls, admin, system):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """The app configured from the environment (for ``uvicorn --factory --no-access-log``,
    and each worker process of ``targeting serve --workers N``), its log lines shown."""
    settings = ServingSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
