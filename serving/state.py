"""The app's state, built once at start-up by the lifespan and kept in ``app.state``.

Everything mutable lives here (model holder, selection, micro-batcher, databases),
owned by one app: two apps in one process share nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from serving.batching import MicroBatcher
from serving.controls import ControlStore
from serving.decision_log import DecisionLog
from serving.engine import DecisionEngine, Outcome, ScoreJob
from serving.folding import LiveFolder
from serving.metrics import Metrics
from serving.model_holder import LoadedModel, ModelHolder, load_model
from serving.reason_rows import find_explainer
from serving.selection import Policy, RandomArm
from serving.settings import ServingSettings
from serving.workers import ReloadSignal, shared_secret

logger = logging.getLogger("serving.state")
GC_YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


@dataclass
class AppState:
    """What the routes work with."""

    settings: ServingSettings
    metrics: Metrics
    holder: ModelHolder
    log: DecisionLog
    controls: ControlStore
    engine: DecisionEngine
    batcher: MicroBatcher[ScoreJob, list[Outcome]]
    reloads: ReloadSignal
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    poller: asyncio.Task[None] | None = None
    # the newest reload generation this process has followed or published (a list: the
    # follower task and the reload route share it)
    reload_seen: list[int] = field(default_factory=lambda: [0])
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # follower, retention

    def serve(self, model: LoadedModel) -> LoadedModel:
        """Put ``model`` in service (atomically); returns the previous one."""
        self.log.register_spec(model.feature_spec_hash, list(model.scorer.names))
        previous = self.holder.swap(model)
        _freeze_heap()
        self.metrics.serving(
            model.ref.name, model.ref.version, model.ref.alias, model.scorer.provider
        )
        return previous


def _freeze_heap() -> None:
    """Exempt what is alive now (above all the model's millions of vocabulary entries)
    from the cyclic garbage collector: a full collection would otherwise walk them all,
    stalling requests for ~100 ms. Unfrozen first, so a replaced model's cycles, if no
    longer referenced, are collected. Young collections are made rarer too (requests
    allocate many short-lived containers; measured ~5 % more requests/s)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def policy_of(settings: ServingSettings) -> Policy:
    return Policy(
        inspection_rate=settings.inspection_rate,
        exploration_share=settings.exploration_share,
        window=settings.selection_window,
        warmup=settings.selection_warmup,
    )


def exploration_key(settings: ServingSettings, database: Path | None = None) -> bytes:
    """The random arm's key: configured, or from ``selection_seed``, or one made once and
    kept in the decision log's file (``database``), shared by every worker process and
    restart on that file."""
    configured = settings.exploration_key.get_secret_value()
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    if settings.selection_seed is not None:
        return hashlib.sha256(f"selection-seed:{settings.selection_seed}".encode()).digest()
    database = database or settings.decision_db
    logger.warning(
        "no TARGETING_EXPLORATION_KEY: the random arm's key is kept in %s (anyone who can"
        " read that file can compute the draws)",
        database.name,
    )
    return shared_secret(database, "exploration_key")


async def open_state(
    settings: ServingSettings, metrics: Metrics, model: LoadedModel | None = None
) -> AppState:
    """Load the model (unless given: else the URI of the latest reload generation, which
    the other worker processes serve, or the configured one), open the databases, start
    the micro-batcher."""
    reloads = ReloadSignal(settings.decision_db)
    latest = reloads.latest()
    if model is None:
        uri = settings.model_uri if latest is None else latest.model_uri
        model = await asyncio.to_thread(load_model, uri, settings)
    if settings.exploration_share == 0:
        logger.warning("exploration_share is 0: no random controls, labels will be biased")
    log = DecisionLog(settings.decision_db, settings.archive_dir)
    controls = ControlStore(settings.decision_db, log)
    holder = ModelHolder(model)
    explainer = find_explainer()
    if explainer is None:
        logger.info("serving.explain.reasons not available: reasons carry code texts")
    engine = DecisionEngine(
        holder,
        policy_of(settings),
        log,
        metrics,
        RandomArm(exploration_key(settings)),
        settings.reasons_k,
        explainer,
        inline_rows=settings.batch_inline_rows,
        sync_s=settings.selection_sync_s,
    )
    batcher: MicroBatcher[ScoreJob, list[Outcome]] = MicroBatcher(
        engine.process,
        max_rows=settings.batch_max_rows,
        max_wait=settings.batch_max_wait_ms / 1000,
        on_batch=metrics.batch_rows.observe,
        inline=engine.light,
        commit=engine.commit,
    )
    state = AppState(settings, metrics, holder, log, controls, engine, batcher, reloads)
    state.reload_seen[0] = 0 if latest is None else latest.number
    state.serve(model)
    batcher.start()
    return state


def _final_checkpoint(live: LiveFolder) -> None:
    live.interval_s = 0.0
    live.fold()
    live.checkpoint()
    live.close()


async def close_state(state: AppState) -> None:
    """Stop polling, answer what is queued, close the databases."""
    for task in [state.poller, *state.tasks]:
        if task is None:
            continue
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await state.batcher.stop()
    live = state.holder.current.live
    if live is not None:  # nothing scores any more: fold the last news and keep them
        await asyncio.to_thread(_final_checkpoint, live)
    state.engine.close()
    state.reloads.close()
    state.controls.close()
    state.log.close()
