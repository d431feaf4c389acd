"""Draining on SIGTERM: answer what was accepted, tell clients to go elsewhere, then stop.

On SIGTERM the server (uvicorn) would at once stop listening and close every idle
keep-alive connection, so a request a client was just sending on one is reset unanswered.
``Drain`` wraps the server's SIGTERM handler for ``seconds`` first: meanwhile the service
keeps listening and answering, every answer carries ``Connection: close`` (the client's
next request opens a new connection, which a load balancer sends elsewhere once
``/readyz`` says ``draining``), and only then is the server's own handler called: it
stops listening, waits for the requests in flight (at most ``shutdown_grace_s``, uvicorn's
``timeout_graceful_shutdown``), and the lifespan answers what the micro-batcher still
holds before it closes the decision log. A second SIGTERM stops at once, as does SIGINT.

The handler is installed by the app's lifespan when it runs in the main thread (a
server process; not under a test client) and removed when the lifespan ends.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

logger = logging.getLogger("serving.drain")


class Drain:
    """The draining state of one app and the SIGTERM handler that starts it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False
        self._previous: Any = None
        self._installed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wrap the current SIGTERM handler (the server's), from the main thread only."""
        if self.seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return
        self._loop = loop
        self._previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self._installed = True

    def uninstall(self) -> None:
        """Put the wrapped handler back."""
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            self._installed = False

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        if self.draining or self._loop is None:  # a second SIGTERM: stop now
            self._forward(sig, frame)
            return
        self.draining = True
        self._loop.call_soon_threadsafe(self._start, sig)

    def _start(self, sig: int) -> None:
        """On the loop: log, and forward the signal once the drain is over."""
        logger.warning("SIGTERM: draining for %.1f s, then shutting down", self.seconds)
        assert self._loop is not None
        self._loop.call_later(self.seconds, self._forward, sig)

    def _forward(self, sig: int, frame: FrameType | None = None) -> None:
        """Hand the signal to the handler this one wrapped (the server's shutdown)."""
        previous = self._previous
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL:  # no server handler: the default action
            self.uninstall()
            signal.raise_signal(sig)
