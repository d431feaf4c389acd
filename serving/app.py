"""``create_app(settings)``: the FastAPI application of the targeting service.

The lifespan loads the model (unless the caller already did), opens the decision log
and starts the micro-batcher, keeping them in one ``AppState`` at ``app.state.serving``;
routers stay thin and reach it through typed dependencies (``serving.deps``).
``uvicorn --factory --no-access-log serving.app:app_from_env`` builds it from
``TARGETING_*`` variables (``targeting serve`` does the same): uvicorn's own access log
would write request paths, which carry declaration ids, into the logs. On SIGTERM the
app drains first (``serving.drain``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from serving import api_docs, errors
from serving.auth import KeyRing
from serving.drain import Drain
from serving.drift_monitor import DriftMonitor, watch
from serving.lifecycle import start_polling
from serving.metrics import Metrics
from serving.middleware import RequestMiddleware
from serving.model_holder import LoadedModel
from serving.routes import admin, consignments, controls, login, score, system
from serving.sessions import Sessions
from serving.settings import ServingSettings
from serving.state import AppState, close_state, open_state

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
    drain = Drain(settings.shutdown_drain_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await open_state(settings, metrics, model)
        app.state.serving = state
        start_polling(state)
        drift = start_drift(app, state)
        drain.install(asyncio.get_running_loop())
        try:
            yield
        finally:
            drain.uninstall()
            app.state.serving = None
            if drift is not None:
                drift.cancel()
            await close_state(state)

    app = FastAPI(
        title="targeting",
        version="1",
        summary="Customs risk targeting: scores, selection decisions, reasons.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # serving.api_docs: Swagger UI from local files
        redoc_url=None,
    )
    app.state.metrics = metrics
    app.state.keys = KeyRing.from_settings(settings)
    app.state.sessions = Sessions.from_settings(settings)
    app.state.metrics_key_required = settings.metrics_key_required
    app.state.serving = None
    app.state.drain = drain
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        drain=drain,
        body_timeout_s=settings.body_timeout_s,
    )
    errors.install(app)
    api_docs.install(app)
    for module in (score, consignments, controls, admin, system):
        app.include_router(module.router)
    login.install(app)  # browser sign-in for the explanation pages (serving.sessions)
    return app


def start_drift(app: FastAPI, state: AppState) -> asyncio.Task[None] | None:
    """The drift monitor at ``app.state.drift``, updated every ``drift_interval_s`` (its
    task, or None when off)."""
    settings = state.settings
    app.state.drift = DriftMonitor(
        state.metrics, settings.decision_db, settings.drift_window, settings.drift_top
    )
    if settings.drift_interval_s <= 0:
        return None

    def bundle() -> Path:
        return state.holder.current.directory

    return asyncio.get_running_loop().create_task(
        watch(app.state.drift, bundle, settings.drift_interval_s)
    )


def app_from_env() -> FastAPI:
    """The app configured from the environment (for ``uvicorn --factory --no-access-log``,
    and each worker process of ``targeting serve --workers N``), its log lines shown."""
    settings = ServingSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
