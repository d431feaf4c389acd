"""Model reloads: on request (``POST /v1/admin/reload``) and by polling the alias.

A reload loads and validates the new model in a thread while the old one keeps
serving, then swaps it in one assignment; one reload runs at a time. A model that
fails validation is refused (``ModelLoadError``) and the old one stays. A reload
requested of one worker process is published as a reload generation that every other
worker follows (``serving.workers``); retention runs on its own schedule
(``serving.retention``).
"""

from __future__ import annotations

import asyncio
import logging

from serving.model_holder import LoadedModel, ModelLoadError, load_model
from serving.registry import RegistryError, registered_version
from serving.retention import retain
from serving.state import AppState
from serving.workers import follow

logger = logging.getLogger("serving.lifecycle")


async def reload_model(
    state: AppState, uri: str | None = None, publish: bool = True
) -> LoadedModel:
    """Load ``uri`` (default: the configured one) and serve it; raises ModelLoadError.
    ``publish``: append a reload generation, so the other worker processes load it too."""
    target = uri or state.settings.model_uri
    async with state.reload_lock:
        try:
            model = await asyncio.to_thread(load_model, target, state.settings)
        except ModelLoadError as exc:
            state.metrics.reloads.labels("refused").inc()
            logger.error("reload refused, previous model keeps serving: %s", exc)
            raise
        previous = state.serve(model)
        if publish:  # on the loop, with reload_seen: the follower never reloads it again
            state.reload_seen[0] = state.reloads.publish(target).number
    state.metrics.reloads.labels("swapped").inc()
    logger.info(
        "now serving %s version %s (was version %s)",
        model.ref.name,
        model.ref.version,
        previous.ref.version,
    )
    return model


async def poll_alias(state: AppState, every: float) -> None:
    """Reload whenever the configured registry URI points at another version."""
    uri = state.settings.model_uri
    while True:
        await asyncio.sleep(every)
        try:
            version = await asyncio.to_thread(registered_version, uri, state.settings.mlruns_dir)
            if version != state.holder.current.ref.version:
                await reload_model(state, uri, publish=False)  # every worker polls
        except (ModelLoadError, RegistryError) as exc:
            logger.error("alias poll: %s", exc)
        except Exception as exc:  # a background loop must outlive a bad poll
            logger.error("alias poll failed: %s", type(exc).__name__)


def start_polling(state: AppState) -> None:
    """Poll the alias every ``poll_alias_seconds`` (when set and the URI is a registry one);
    follow other workers' reloads; archive old decisions on schedule."""
    loop = asyncio.get_running_loop()
    every = state.settings.poll_alias_seconds
    if every > 0 and state.settings.model_uri.startswith("models:/"):
        state.poller = loop.create_task(poll_alias(state, every))

    async def follow_reload(uri: str) -> None:
        await reload_model(state, uri, publish=False)

    state.tasks.append(
        loop.create_task(
            follow(state.reloads, state.reload_seen, state.settings.reload_poll_s, follow_reload)
        )
    )
    if state.settings.archive_after_days > 0:
        state.tasks.append(loop.create_task(retain(state.log, state.settings, state.metrics)))
