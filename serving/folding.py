"""The API's live feature state: the decision log and the control store, tailed and folded.

Every process serving a model keeps its own live state (``features.live.LiveState``)
and folds into it, at most every ``fold_interval_s`` seconds, what the shared SQLite
files gained since it last looked: the declarations of every decision (its own and
other processes'), in log order, and every control result. The decision log is the
event stream: what a process folds is exactly what was acknowledged, so all processes
converge on the same state, each at most one interval (plus a fold) behind the others,
and a restart loses nothing: the state is checkpointed every ``checkpoint_interval_s``
with the log positions it covers, and a starting process loads the checkpoint and folds
the rest of the log before it serves.

Own decisions are folded from the records the engine scored (``remember``), not parsed
back from their stored JSON; other processes' from the JSON. A fold runs on the
engine's one batch path (``DecisionEngine.process``), never beside a scoring call, so
the pipeline is never read while it changes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from features.inputs import Inputs, concat_inputs
from features.live import LiveState
from serving.controls import results_frame
from serving.schemas import scoring_record
from serving.storage import chunks, placeholders

logger = logging.getLogger("serving.folding")
TAIL_ROWS = 20_000  # log rows read per statement while catching up
DECISIONS = "decisions"
CONTROLS_STREAM = "controls"


@dataclass(frozen=True)
class FoldReport:
    """What one fold took in."""

    declarations: int
    controls: int
    seconds: float
    checkpoint: Path | None


def _rows(conn: sqlite3.Connection, columns: str, query: str, args: Sequence[Any]) -> list:
    """Rows of ``query`` as lists of ``columns`` (rowid first, sorted by it), returned by
    SQLite as one JSON value: one statement step, so the read does not hand the GIL back
    and forth once per row beside a busy event loop (see serving.storage)."""
    sql = f"SELECT json_group_array(json_array({columns})) FROM ({query})"
    try:
        found = conn.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError as exc:  # a log not created yet holds nothing
        if "no such table" in str(exc):
            return []
        raise
    rows = orjson.loads(found) if found else []  # texts and integers only: never 9e999
    rows.sort(key=lambda row: row[0])  # rowid first: log order, whatever the aggregate's
    return rows


class LiveFolder:
    """Folds a serving model's decisions and control results into its live state."""

    def __init__(
        self,
        live: LiveState,
        database: Path,
        interval_s: float,
        checkpoint_root: Path | None,
        checkpoint_interval_s: float,
    ) -> None:
        self.live = live
        self.database = database
        self.interval_s = interval_s
        self.checkpoint_root = checkpoint_root
        self.checkpoint_interval_s = checkpoint_interval_s
        self._own: dict[str, tuple[int, int]] = {}  # decision id -> (batch, row)
        self._batches: dict[int, Inputs] = {}  # the inputs of batches scored, not yet folded
        self._next_batch = 0
        self._last_fold = time.monotonic()
        self._last_checkpoint = time.monotonic()
        self._conn: sqlite3.Connection | None = None

    # ----- what the engine calls -----------------------------------------------------
    def remember(self, decision_ids: Sequence[str], inputs: Inputs) -> None:
        """The scored inputs of decisions about to be logged (folded once they are)."""
        batch = self._next_batch
        self._next_batch += 1
        self._batches[batch] = inputs
        self._own.update((d, (batch, row)) for row, d in enumerate(decision_ids))

    def due(self) -> bool:
        """Whether the next batch should fold first."""
        return time.monotonic() - self._last_fold >= self.interval_s

    def fold(self) -> FoldReport:
        """Fold what the log and the control store gained since the last fold."""
        began = time.perf_counter()
        declarations = self._fold_decisions()
        controls = self._fold_controls()
        self._last_fold = time.monotonic()
        checkpoint = None
        if (
            self.checkpoint_root is not None
            and time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s
        ):
            checkpoint = self.checkpoint()
        return FoldReport(declarations, controls, time.perf_counter() - began, checkpoint)

    def catch_up(self) -> FoldReport:
        """Fold everything after the state's positions (at load, before serving)."""
        report = self.fold()
        logger.info(
            "live state %s: caught up %d declarations and %d control results in %.1f s",
            self.live.meta.source,
            report.declarations,
            report.controls,
            report.seconds,
        )
        return report

    def checkpoint(self) -> Path | None:
        """Save the state with the positions it covers."""
        if self.checkpoint_root is None:
            return None
        path = self.live.save(self.checkpoint_root)
        self._last_checkpoint = time.monotonic()
        return path

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ----- tailing -------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.database.exists():
                return None
            self._conn = sqlite3.connect(self.database, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
        return self._conn

    def _tail(
        self, stream: str, table: str, column: str, fold: Callable[[list[list[Any]]], None]
    ) -> int:
        """Hand ``fold`` the rows (rowid, ``column``) that ``table`` gained after the
        state's position in ``stream``, ``TAIL_ROWS`` at a time, advancing the position."""
        conn = self._connection()
        if conn is None:
            return 0
        positions = self.live.meta.positions
        total = 0
        while True:
            query = f"SELECT rowid AS n, {column} AS v FROM {table} WHERE rowid > ?"
            query += " ORDER BY rowid LIMIT ?"
            rows = _rows(conn, "n, v", query, (positions.get(stream, 0), TAIL_ROWS))
            if not rows:
                break
            fold(rows)
            positions[stream] = int(rows[-1][0])
            total += len(rows)
            if len(rows) < TAIL_ROWS:
                break
        return total

    def _fold_decisions(self) -> int:
        total = self._tail(DECISIONS, "decisions", "decision_id", self._fold_decision_rows)
        self._forget_unlogged()
        return total

    def _fold_decision_rows(self, rows: list[list[Any]]) -> None:
        """Own decisions from the inputs they were scored with, others' as stored."""
        others: list[int] = []
        own: dict[int, list[int]] = {}
        for rowid, decision_id in rows:
            mine = self._own.pop(decision_id, None)
            if mine is None:
                others.append(int(rowid))
            else:
                own.setdefault(mine[0], []).append(mine[1])
        # One update for the run of batches (single requests make batches of one row,
        # and each update has a fixed cost of milliseconds), in log order.
        taken = [self._rows_of(self._batches[batch], rows) for batch, rows in own.items()]
        for inputs in concat_inputs(taken):
            self.live.fold_inputs(inputs)
        if others:  # other processes' decisions: their declarations as stored
            self.live.fold_records(self._stored(others))

    @staticmethod
    def _rows_of(inputs: Inputs, rows: list[int]) -> Inputs:
        """``rows`` of a scored batch: the batch itself when all are taken, in order."""
        if len(rows) == inputs.n and rows == list(range(inputs.n)):
            return inputs
        return inputs.take(np.asarray(rows))

    def _stored(self, rowids: list[int]) -> list[dict[str, Any]]:
        """Scoring records of logged decisions, from their stored declarations (log order)."""
        conn = self._connection()
        found: dict[int, str] = {}
        if conn is None:
            return []
        for chunk in chunks(rowids):
            query = (
                "SELECT rowid AS n, declaration AS j FROM decisions"
                f" WHERE rowid IN ({placeholders(len(chunk))})"
            )
            found.update((int(n), j) for n, j in _rows(conn, "n, j", query, chunk))
        return [scoring_record(json.loads(found[r])) for r in rowids]

    def _forget_unlogged(self) -> None:
        """Drop the inputs of batches folded in full; and, since a batch whose commit
        failed never reaches the log, forget all when too many wait (a decision that does
        reach the log later is then read from its stored JSON instead)."""
        waiting = {batch for batch, _ in self._own.values()}
        for batch in [b for b in self._batches if b not in waiting]:
            del self._batches[batch]
        if len(self._own) > 4 * TAIL_ROWS:
            self._own.clear()
            self._batches.clear()

    def _fold_controls(self) -> int:
        return self._tail(CONTROLS_STREAM, "control_results", "result", self._fold_result_rows)

    def _fold_result_rows(self, rows: list[list[Any]]) -> None:
        frame = results_frame([result for _, result in rows])
        self.live.fold(controls=frame.dropna(subset=["declaration_id"]))
