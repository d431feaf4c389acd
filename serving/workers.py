"""What the worker processes of one service share through the decision log's SQLite file.

``targeting serve --workers N`` runs N processes on the same decision log and control
store (SQLite in WAL mode: many readers beside one writer at a time, across processes;
each commit waits at most ``busy_timeout`` for another process's). Each process keeps
its own model, live feature state and selection window; what must agree between them
lives in the shared file:

- ``service_secrets``: the random arm's key when none is configured, made once by the
  first process and read by every other (and after restarts), so a declaration gets
  the same draw whichever process scores it;
- ``reloads``: the reload generations. ``POST /v1/admin/reload`` reaches one process;
  once its model serves, that process appends a generation (the URI it loaded); every
  process polls the table every ``reload_poll_s`` seconds and loads a newer generation's
  URI, so all serve the new model within one poll plus a load. ``targeting serve``
  appends a generation for the configured URI when it starts, so a worker the server
  restarts later loads what the others serve.

With several workers uvicorn binds the listening socket itself, without the TCP
protocol number, so asyncio never sets TCP_NODELAY on the connections it accepts: every
answer then waits out the client's delayed ACK (measured: 44 ms per empty POST on one
keep-alive connection, against ~0.6 ms with one worker). ``NoDelayH11`` sets it on each
connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from serving.server import HeaderTimeoutH11
from serving.settings import ServingSettings
from serving.storage import connect

logger = logging.getLogger("serving.workers")
SCHEMA = """
CREATE TABLE IF NOT EXISTS service_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reloads (
    generation INTEGER PRIMARY KEY AUTOINCREMENT,
    model_uri TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
"""


def _open(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    conn.executescript(SCHEMA)
    return conn


def shared_secret(path: Path, name: str, size: int = 32) -> bytes:
    """The secret ``name`` kept in the SQLite file at ``path``: made (random) by the first
    caller, the same for every process and restart on that file."""
    conn = _open(path)
    try:
        conn.execute(
            "INSERT OR IGNORE INTO service_secrets VALUES (?, ?)", (name, secrets.token_bytes(size))
        )
        (value,) = conn.execute(
            "SELECT value FROM service_secrets WHERE name = ?", (name,)
        ).fetchone()
    finally:
        conn.close()
    return bytes(value)


@dataclass(frozen=True)
class Generation:
    """One reload generation: its number and the model URI to serve."""

    number: int
    model_uri: str


class ReloadSignal:
    """The ``reloads`` table: publish a generation, read the latest."""

    def __init__(self, path: Path) -> None:
        self._conn = _open(path)
        self._lock = threading.Lock()

    def publish(self, model_uri: str) -> Generation:
        """Append a generation for ``model_uri``; every process will load it."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO reloads (model_uri, requested_at) VALUES (?, ?)",
                (model_uri, datetime.now(UTC).isoformat()),
            )
        return Generation(int(cursor.lastrowid or 0), model_uri)

    def latest(self) -> Generation | None:
        """The newest generation, or None when no process has published one."""
        with self._lock:
            row = self._conn.execute(
                "SELECT generation, model_uri FROM reloads ORDER BY generation DESC LIMIT 1"
            ).fetchone()
        return None if row is None else Generation(int(row[0]), str(row[1]))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


async def follow(signal: ReloadSignal, seen: list[int], every: float, reload: object) -> None:
    """Every ``every`` seconds, ``await reload(uri)`` for a generation newer than
    ``seen[0]`` (which the caller updates when it publishes one itself)."""
    while True:
        await asyncio.sleep(every)
        try:
            latest = await asyncio.to_thread(signal.latest)
            if latest is None or latest.number <= seen[0]:
                continue
            seen[0] = latest.number
            logger.info("reload generation %d: loading %s", latest.number, latest.model_uri)
            await reload(latest.model_uri)  # type: ignore[operator]
        except Exception as exc:  # a background loop must outlive a refused model
            logger.error("reload generation not followed: %s", exc)


def check_model(settings: ServingSettings) -> str | None:
    """Load the configured model as a worker would (validation, smoke test, live state
    caught up with the log and checkpointed, so the workers start from there); the
    reason it cannot serve, or None. Run in a child process by ``targeting serve``, so
    the supervisor never holds a model."""
    from serving.model_holder import ModelLoadError, load_model

    try:
        model = load_model(settings.model_uri, settings)
    except ModelLoadError as exc:
        return str(exc)
    if model.live is not None:
        model.live.checkpoint()
        model.live.close()
    return None


class NoDelayH11(HeaderTimeoutH11):
    """``serving.server``'s h11 protocol (header timeout) with TCP_NODELAY set on every
    connection (see above). A class of this module, not one built from the settings: uvicorn
    hands it to spawned workers by name, so the timeout comes from the environment."""

    header_timeout_s = float(
        os.environ.get(
            "TARGETING_HEADER_TIMEOUT_S",
            ServingSettings.model_fields["header_timeout_s"].default,
        )
    )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
