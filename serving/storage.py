"""SQLite connections for the decision log and the control results: WAL, synchronous=FULL.

In WAL mode with ``synchronous=FULL`` a commit returns only after the write-ahead log
is fsynced: a committed decision survives a killed process and a power cut. One
connection per ``Database`` writes (behind a lock); reads use their own connection,
which WAL lets run beside the writer. Checkpoints (copying the log into the database
file, with its own fsync) run in a background thread rather than inside whichever
commit crosses SQLite's automatic threshold, so no request waits for one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger("serving.storage")
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_SECONDS = 1.0


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with full synchronisation, usable from any thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.row_factory = sqlite3.Row
    return conn


class Database:
    """A SQLite file with one writer connection and one reader connection."""

    def __init__(
        self, path: Path, schema: str, checkpoint_seconds: float = CHECKPOINT_SECONDS
    ) -> None:
        self.path = path
        self.checkpoint_seconds = checkpoint_seconds
        self._writer = connect(path)
        self._reader = connect(path)
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        with self._write_lock:
            self._writer.executescript(schema)  # its own transaction (IF NOT EXISTS: idempotent)
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name=f"checkpoint-{path.name}", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Every ``checkpoint_seconds``, a PASSIVE checkpoint (it never blocks writers)."""
        conn = connect(self.path)
        try:
            while not self._closing.wait(self.checkpoint_seconds):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy or I/O: try again next time
                    logger.warning("checkpoint of %s failed: %s", self.path.name, exc)
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer inside BEGIN IMMEDIATE ... COMMIT (rolled back on error)."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def write(self, sql: str, params: Sequence[Any]) -> None:
        """One statement as its own transaction (autocommit: atomic, and durable when it
        returns). Python's sqlite3 lets go of the GIL for each prepare and step; taking
        it back waits up to the interpreter's switch interval (5 ms) while the event
        loop is busy, so one statement is cheaper than BEGIN, statement, COMMIT."""
        with self._write_lock:
            self._writer.execute(sql, params)

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The reader connection (autocommit: each query sees the latest commit)."""
        with self._read_lock:
            yield self._reader

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join()
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()
