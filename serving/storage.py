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

Each ``Database`` remembers the outcome of its last write (``last_error``): a failure
of the storage itself (``is_storage_failure``: disk full, I/O error, read-only file,
the OS refusing the write) is kept until a write succeeds again. ``health`` reports it
and, while it is a failure, tries a decision-sized write (``probe``) to see whether the
storage came back: a service taken out of rotation for a full disk receives no writes
that could tell it so.
"""

from __future__ import annotations

import errno
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
# errno values of a storage that cannot take writes (a full disk, a file size limit...)
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}
)
PROBE_BYTES = 64 * 1024  # about eight decisions with their reasons
PROBE_SCHEMA = "CREATE TABLE IF NOT EXISTS storage_probe (id INTEGER PRIMARY KEY, payload BLOB);"


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage cannot be used now (not that a statement is
    wrong): SQLite's operational errors (full, I/O error, read-only, locked) and the
    OS errors of a full or failing disk."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


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
        self.last_error: str | None = None  # the last write's failure, None once one succeeds
        with self._write_lock:
            # its own transaction (IF NOT EXISTS: idempotent)
            self._writer.executescript(schema + PROBE_SCHEMA)
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
    def _outcome(self) -> Iterator[None]:
        """Record the outcome of the write inside (call with the write lock held)."""
        try:
            yield
        except BaseException as exc:
            if is_storage_failure(exc):
                self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.last_error = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The writer inside BEGIN IMMEDIATE ... COMMIT (rolled back on error)."""
        with self._write_lock, self._outcome():
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                if self._writer.in_transaction:  # a failed COMMIT may have rolled back
                    self._writer.execute("ROLLBACK")
                raise
            try:
                self._writer.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise

    def probe(self) -> str | None:
        """Write (and delete, in one committed transaction) ``PROBE_BYTES``: None when
        the storage took it, else the failure (also kept as ``last_error``)."""
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO storage_probe (payload) VALUES (zeroblob(?))", (PROBE_BYTES,)
                )
                conn.execute("DELETE FROM storage_probe")
        except (sqlite3.Error, OSError) as exc:
            if not is_storage_failure(exc):
                raise
        return self.last_error

    def health(self) -> str | None:
        """None when the storage takes writes, else why not: the last write's outcome,
        checked again by a ``probe`` while it is a failure (blocking I/O then)."""
        return None if self.last_error is None else self.probe()

    def append(self, into: str, rows: Sequence[Sequence[Any]]) -> None:
        """Commit ``rows`` into ``into`` in one transaction. Up to ``CHUNK_ROWS`` rows are
        one statement in autocommit (atomic, and durable when it returns), cheaper than
        BEGIN, statement, COMMIT; more are ``insert_rows`` inside a transaction."""
        if not rows:
            return
        if len(rows) <= CHUNK_ROWS:
            with self._write_lock, self._outcome():
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
