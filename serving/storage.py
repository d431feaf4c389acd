"""SQLite connections for the decision log and the control results: WAL, synchronous=FULL.

In WAL mode with ``synchronous=FULL`` a commit returns only after the write-ahead log
is fsynced: a committed decision survives a killed process and a power cut. One
connection per ``Database`` writes (behind a lock); reads use their own connection,
which WAL lets run beside the writer. Checkpoints (copying the log into the database
file, with its own fsync) run in a background thread rather than inside whichever
commit crosses SQLite's automatic threshold, so no request waits for one.

Statements are few and wide: Python's sqlite3 lets go of the GIL for every prepare and
every step (a statement's execution, or a row read back), and taking it back waits up
to the interpreter's switch interval (5 ms) while the event loop is busy. So rows are
inserted many per statement (``insert_rows``, ``Database.append``) and lookups return
one value per query: beside a busy thread, 1,000 rows by ``executemany`` took 5.2 s,
in two statements 52 ms.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger("serving.storage")
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_SECONDS = 1.0
CHUNK_ROWS = 500  # rows (or ids) per statement: within SQLite's 32,766 parameters
# After a checkpoint has copied the whole WAL back, the next write restarts the WAL from
# its beginning and truncates the file to this size (it would otherwise keep its peak).
WAL_SIZE_LIMIT = 16 * 2**20
# Pages of a new file: a decision (~2.3 KiB without reasons) fills a 4 KiB page alone,
# so 16 KiB pages hold seven: 40 % fewer bytes written per commit (existing files keep
# theirs: SQLite cannot change it in WAL mode).
PAGE_SIZE = 16_384
T = TypeVar("T")


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in slices of ``CHUNK_ROWS``: the rows or ids of one statement."""
    for start in range(0, len(values), CHUNK_ROWS):
        yield values[start : start + CHUNK_ROWS]


def placeholders(count: int) -> str:
    """``?, ?, ...``: ``count`` parameters, for ``IN (...)``."""
    return ", ".join("?" * count)


@functools.lru_cache(maxsize=128)
def _insert(into: str, width: int, rows: int) -> str:
    one = f"({placeholders(width)})"
    return f"INSERT INTO {into} VALUES {', '.join([one] * rows)}"


def insert_rows(conn: sqlite3.Connection, into: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples of one width) into ``into`` (a table, optionally with its
    column list), ``CHUNK_ROWS`` per statement."""
    for chunk in chunks(rows):
        conn.execute(_insert(into, len(chunk[0]), len(chunk)), [v for row in chunk for v in row])


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with full synchronisation, usable from any thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before WAL mode: only a new file takes it
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"{path}: SQLite refused WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
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

    def append(self, into: str, rows: Sequence[Sequence[Any]]) -> None:
        """Commit ``rows`` into ``into`` in one transaction. Up to ``CHUNK_ROWS`` rows are
        one statement in autocommit (atomic, and durable when it returns), cheaper than
        BEGIN, statement, COMMIT; more are ``insert_rows`` inside a transaction."""
        if not rows:
            return
        if len(rows) <= CHUNK_ROWS:
            with self._write_lock:
                insert_rows(self._writer, into, rows)
            return
        with self.transaction() as conn:
            insert_rows(conn, into, rows)

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
