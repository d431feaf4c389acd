"""The selection window shared by worker processes: other processes' scores, tailed
from the decision log.

Each process decides with its own ``Selector``. So that N processes keep one threshold,
each feeds its window, besides its own scores, the scores every other process logged
for the same model (name, version): at most every ``every`` seconds (``sync``, on the
batch path) it reads what the log gained since its position, leaving out its own
decisions (their ids start with its ``IdGenerator`` prefix). A new selector (start-up,
reload) is primed with the model's last ``window`` logged scores, so a worker that
starts or restarts late begins with the others' window, not the bundle's warm-up
threshold. The windows then hold the same scores, up to those logged in the last
``every`` seconds plus one batch (in a slightly different order), so the thresholds
agree up to that delay.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson

from serving.selection import Selector

PRIME_SCAN = 4  # a new selector looks for its model's scores in the last 4 windows of rows


class WindowTail:
    """Tails the log's scores of one model into a selector; one caller at a time."""

    def __init__(self, database: Path, own_prefix: str, every: float) -> None:
        self.database = database
        self.own_prefix = own_prefix
        self.every = every
        self._position = 0
        self._last = time.monotonic()
        self._conn: sqlite3.Connection | None = None

    def _read(self, sql: str, args: tuple[object, ...]) -> tuple[list[list[float]], int]:
        """Rows (rowid, score, selected) of ``sql`` as one JSON value (one step: see
        serving.storage; scores in 17 digits, which the "!" flag makes SQLite print
        exactly), and the log's last rowid in the same snapshot."""
        if self._conn is None:
            if not self.database.exists():
                return [], 0
            self._conn = sqlite3.connect(self.database, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
        query = (
            f"SELECT json_group_array(json_array(n, printf('%!.17g', score), selected)),"
            f" (SELECT max(rowid) FROM decisions) FROM ({sql})"
        )
        try:
            found, top = self._conn.execute(query, args).fetchone()
        except sqlite3.OperationalError as exc:  # no decisions table yet
            if "no such table" in str(exc):
                return [], 0
            raise
        return (orjson.loads(found) if found else []), int(top or 0)

    def prime(self, selector: Selector, name: str, version: str) -> None:
        """Fill a fresh ``selector`` with the model's last logged scores (oldest first),
        found among the log's last ``PRIME_SCAN`` windows of rows."""
        window = selector.policy.window
        rows, self._position = self._read(  # among the log's last rows only: a bounded read
            "SELECT rowid AS n, score, selected FROM decisions WHERE model_name = ?"
            " AND model_version = ? AND rowid > (SELECT max(rowid) FROM decisions) - ?"
            " ORDER BY rowid DESC LIMIT ?",
            (name, version, PRIME_SCAN * window, window),
        )
        rows.sort(key=lambda r: r[0])
        selector.observe([float(r[1]) for r in rows], [bool(r[2]) for r in rows])
        self._last = time.monotonic()

    def due(self) -> bool:
        """Whether the next batch should sync first."""
        return self.every > 0 and time.monotonic() - self._last >= self.every

    def sync(self, selector: Selector, name: str, version: str) -> int:
        """Feed ``selector`` the model's scores other processes logged since the last
        call, in log order; returns how many."""
        rows, top = self._read(
            "SELECT rowid AS n, score, selected FROM decisions WHERE rowid > ?"
            " AND model_name = ? AND model_version = ? AND substr(decision_id, 1, ?) != ?"
            " ORDER BY rowid",
            (self._position, name, version, len(self.own_prefix), self.own_prefix),
        )
        self._position = max(self._position, top)
        selector.observe([float(r[1]) for r in rows], [bool(r[2]) for r in rows])
        self._last = time.monotonic()
        return len(rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
