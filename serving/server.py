"""How the service runs under uvicorn: one place for the server's options.

``targeting serve`` and ``python -m serving.server`` (the app built from ``TARGETING_*``
variables, as ``serving.app.app_from_env``) both run uvicorn with ``server_options``.
uvicorn's access log stays off: its lines carry paths (ids) and client addresses.

Slow or idle clients are bounded (a reverse proxy in front is still recommended:
docs/serving.md has an nginx example):

- ``max_connections``: uvicorn's ``limit_concurrency``; a request beyond it is answered 503;
- ``header_timeout_s``: a connection must send a whole request head this soon after it
  opens or after its first byte (uvicorn has no such timeout: ``HeaderTimeoutH11``
  closes it); ``max_header_bytes``: h11's limit on a request head (400 past it);
- ``keep_alive_s``: an idle keep-alive connection is closed after this long;
- ``body_timeout_s``: the body must keep arriving (``serving.middleware``: 408);
- ``shutdown_grace_s``: the most SIGTERM waits for requests in flight (``serving.drain``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from serving.settings import ServingSettings


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol closing a connection that does not send a whole request
    head within ``header_timeout_s`` of opening or of the head's first byte (a client
    holding connections open by trickling headers ties up the server otherwise)."""

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expire(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._between_requests():
            self._arm()  # part of a head: it has header_timeout_s to complete
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # idle now: uvicorn's keep-alive timeout applies
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol(settings: ServingSettings) -> Callable[..., HeaderTimeoutH11]:
    """uvicorn's ``http`` option: ``HeaderTimeoutH11`` with the settings' header timeout
    (a partial of a module-level class: picklable, for uvicorn's worker processes)."""
    return functools.partial(HeaderTimeoutH11, header_timeout_s=settings.header_timeout_s)


def server_options(settings: ServingSettings) -> dict[str, Any]:
    """uvicorn's keyword arguments for ``settings``."""
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "http": protocol(settings),
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }


def run(app: FastAPI, settings: ServingSettings) -> None:
    """Serve ``app`` until SIGINT or SIGTERM."""
    uvicorn.run(app, **server_options(settings))


def main() -> None:
    """Serve the app configured from the environment."""
    from serving.app import create_app

    settings = ServingSettings()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
