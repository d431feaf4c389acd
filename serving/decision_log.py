"""The durable decision log: every decision is committed here before its response is sent.

One row per declaration scored: request hash, declaration id, feature vector (float32
bytes, as the model reads it; ``vector_dtype`` "<f4", NULL for the float64 of rows
written before; names in ``feature_specs`` by spec hash), model, score, reasons (and,
when they were computed, the TreeSHAP contributions and their base, float32 too),
decision, propensity, threshold, timestamp, and the canonical declaration itself (needed
to explain and audit the decision; the database, unlike the logs, may hold it). A
micro-batch, and so every batch request, is written in one transaction.

Retention (``archive``): decisions older than a cut-off move, whole UTC days at a
time, to Parquet parts under an archive directory (``serving.archive``; read them back
with ``read_archive(directory, start, end)``), and are deleted from SQLite only once
their part is on disk, in the transaction that lists the part in the ``archived_parts``
ledger; the WAL is then truncated. The newest row is never archived, so SQLite never
hands out a rowid twice (the live state tails the log by rowid).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from serving.archive import (
    day_dir,
    latest_decisions,
    part_name,
    read_archive,
    vector,
    write_part,
    write_specs,
)
from serving.storage import Database, chunks, connect, placeholders

__all__ = ["DecisionLog", "DecisionRecord", "read_archive"]
logger = logging.getLogger("serving.decision_log")
VECTOR_DTYPE = "<f4"  # feature vectors and contributions as stored from now on
_NUMPY = orjson.OPT_SERIALIZE_NUMPY  # reasons may carry numpy scalars
ARCHIVE_ROWS = 5_000  # log rows per read (one JSON value) and at most per part

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    declaration_id TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    model_alias TEXT,
    feature_spec_hash TEXT NOT NULL,
    score REAL NOT NULL,
    expected_revenue REAL NOT NULL,
    risk_band TEXT NOT NULL,
    risk_type TEXT NOT NULL,
    selected INTEGER NOT NULL,
    basis TEXT NOT NULL,
    propensity REAL NOT NULL,
    random_probability REAL NOT NULL,
    threshold REAL NOT NULL,
    reasons TEXT,
    features BLOB NOT NULL,
    declaration TEXT NOT NULL,
    contributions BLOB,
    shap_base REAL,
    vector_dtype TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_declaration ON decisions (declaration_id, decided_at);
CREATE TABLE IF NOT EXISTS feature_specs (
    feature_spec_hash TEXT PRIMARY KEY,
    names TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archived_parts (
    path TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    first_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    archived_at TEXT NOT NULL
);
"""
COLUMNS = (
    "decision_id",
    "declaration_id",
    "decided_at",
    "request_id",
    "request_hash",
    "model_name",
    "model_version",
    "model_alias",
    "feature_spec_hash",
    "score",
    "expected_revenue",
    "risk_band",
    "risk_type",
    "selected",
    "basis",
    "propensity",
    "random_probability",
    "threshold",
    "reasons",
    "features",
    "declaration",
    "contributions",
    "shap_base",
    "vector_dtype",
)
# Columns added after the first release: (name, SQL type), added to older logs on open.
ADDED_COLUMNS = (("contributions", "BLOB"), ("shap_base", "REAL"), ("vector_dtype", "TEXT"))
_INTO = f"decisions ({', '.join(COLUMNS)})"


@dataclass(frozen=True)
class DecisionRecord:
    """What the log keeps of one decision."""

    decision_id: str
    declaration_id: str
    decided_at: str  # ISO 8601, UTC
    request_id: str
    request_hash: str
    model_name: str
    model_version: str
    model_alias: str | None
    feature_spec_hash: str
    score: float
    expected_revenue: float
    risk_band: str
    risk_type: str
    selected: bool
    basis: str
    propensity: float
    random_probability: float
    threshold: float
    reasons: list[dict[str, Any]] | None
    features: np.ndarray
    declaration: bytes  # the declaration's JSON as the API validated it
    # TreeSHAP of the tree model when reasons were computed (the bias as shap_base): the
    # explanation page then shows the decision as made, even after a model change.
    contributions: np.ndarray | None = None
    shap_base: float | None = None

    def row(self) -> tuple[Any, ...]:
        """The record as an INSERT parameter tuple, in ``COLUMNS`` order."""
        return (
            self.decision_id,
            self.declaration_id,
            self.decided_at,
            self.request_id,
            self.request_hash,
            self.model_name,
            self.model_version,
            self.model_alias,
            self.feature_spec_hash,
            self.score,
            self.expected_revenue,
            self.risk_band,
            self.risk_type,
            int(self.selected),
            self.basis,
            self.propensity,
            self.random_probability,
            self.threshold,
            None if self.reasons is None else orjson.dumps(self.reasons, option=_NUMPY).decode(),
            np.asarray(self.features, dtype=VECTOR_DTYPE).tobytes(),
            self.declaration.decode(),
            None
            if self.contributions is None
            else np.asarray(self.contributions, dtype=VECTOR_DTYPE).tobytes(),
            self.shap_base,
            VECTOR_DTYPE,
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ArchiveReport:
    """What one archiving run moved out of SQLite."""

    decisions: int
    parts: list[Path]
    seconds: float


class DecisionLog:
    """Append decisions (one transaction per call) and read them back; ``archive_dir``
    (where ``archive`` moves old decisions) is also searched by ``decisions_of``."""

    def __init__(self, path: Path, archive_dir: Path | None = None) -> None:
        self.archive_dir = archive_dir
        self.db = Database(path, SCHEMA)
        with self.db.transaction() as conn:
            present = {row["name"] for row in conn.execute("PRAGMA table_info(decisions)")}
            for name, kind in ADDED_COLUMNS:
                if name not in present:
                    conn.execute(f"ALTER TABLE decisions ADD COLUMN {name} {kind}")

    def register_spec(self, spec_hash: str, names: list[str]) -> None:
        """Record the feature names of a spec hash (once)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO feature_specs VALUES (?, ?)", (spec_hash, json.dumps(names))
            )

    def append(self, records: list[DecisionRecord]) -> None:
        """Commit ``records`` in one transaction; returns once they are on disk (in few,
        wide statements: see ``serving.storage``)."""
        self.db.append(_INTO, [r.row() for r in records])

    def latest(self, declaration_id: str) -> dict[str, Any] | None:
        """The most recent decision on ``declaration_id``, as a plain dict (or None)."""
        with self.db.reading() as conn:
            row = conn.execute(
                "SELECT d.*, s.names FROM decisions d LEFT JOIN feature_specs s"
                " USING (feature_spec_hash) WHERE d.declaration_id = ?"
                " ORDER BY d.decided_at DESC, d.rowid DESC LIMIT 1",
                (declaration_id,),
            ).fetchone()
        return None if row is None else _as_dict(row)

    def decisions_of(self, declaration_ids: list[str]) -> dict[str, tuple[str, float]]:
        """(basis, propensity) of the latest decision on each of ``declaration_ids`` that
        has one. Each query's rows come back as one JSON value (one step: see
        ``serving.storage``)."""
        unique = list(dict.fromkeys(declaration_ids))
        latest: dict[str, tuple[str, int, str, float]] = {}
        with self.db.reading() as conn:
            for chunk in chunks(unique):
                (found,) = conn.execute(
                    "SELECT json_group_array(json_array(declaration_id, decided_at, rowid,"
                    " basis, printf('%!.17g', propensity))) FROM decisions"
                    f" WHERE declaration_id IN ({placeholders(len(chunk))})",
                    chunk,
                ).fetchone()
                for declaration_id, decided_at, rowid, basis, propensity in orjson.loads(found):
                    row = (decided_at, rowid, basis, float(propensity))
                    if declaration_id not in latest or row[:2] > latest[declaration_id][:2]:
                        latest[declaration_id] = row
        missing = [i for i in unique if i not in latest]
        if missing and self.archive_dir is not None and self.archive_dir.is_dir():
            latest.update(_archived_decisions(self.archive_dir, missing))
        return {k: (v[2], v[3]) for k, v in latest.items()}

    def archive(self, directory: Path, before: datetime) -> ArchiveReport:
        """Move the decisions taken before ``before`` (UTC) to Parquet parts by day under
        ``directory``, then delete them from SQLite and truncate the WAL.

        Each part is on disk (fsynced, renamed) before the transaction that deletes its
        rows and lists it in ``archived_parts``: a crash leaves the rows in SQLite and at
        most a part the ledger does not list, which the next run removes before writing
        it again (no loss, no repeat). One run at a time across processes (a lock file in
        ``directory``)."""
        began = time.perf_counter()
        directory.mkdir(parents=True, exist_ok=True)
        cutoff = before.isoformat(timespec="microseconds")
        parts: list[Path] = []
        moved = 0
        conn = connect(self.db.path)
        conn.row_factory = None
        try:
            with open(directory / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._remove_unlisted(conn, directory)
                write_specs(directory, _specs(conn))
                while True:
                    rows = _oldest(conn, cutoff)
                    if not rows:
                        break
                    day = rows[0]["decided_at"][:10]
                    rows = [r for r in rows if r["decided_at"][:10] == day]
                    first, last = rows[0].pop("rowid"), rows[-1]["rowid"]
                    for r in rows[1:]:
                        r.pop("rowid")
                    path = write_part(day_dir(directory, day) / part_name(first, last), rows)
                    _prune(conn, path.relative_to(directory).as_posix(), day, first, last, cutoff)
                    parts.append(path)
                    moved += len(rows)
                if moved:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
        return ArchiveReport(moved, parts, time.perf_counter() - began)

    @staticmethod
    def _remove_unlisted(conn: Any, directory: Path) -> None:
        """Delete parts the ledger does not list: written by a run that died before its
        rows were deleted (they are still in SQLite, and will be archived again)."""
        listed = {path for (path,) in conn.execute("SELECT path FROM archived_parts")}
        for part in directory.glob("day=*/part-*.parquet"):
            if part.relative_to(directory).as_posix() not in listed:
                logger.warning("removing %s: its decisions were never pruned from the log", part)
                part.unlink()

    def close(self) -> None:
        self.db.close()


_ARCHIVED_COLUMNS = [c for c in COLUMNS if c not in ("features", "contributions", "vector_dtype")]


def _oldest(conn: Any, cutoff: str) -> list[dict[str, Any]]:
    """Up to ``ARCHIVE_ROWS`` of the oldest rows decided before ``cutoff``, never the
    newest row of the log, as archive rows (with their rowid), read as one JSON value."""
    plain = ", ".join(_ARCHIVED_COLUMNS)
    (found,) = conn.execute(
        f"SELECT json_group_array(json_array(rowid, {plain}, hex(features),"
        " hex(contributions), vector_dtype)) FROM (SELECT rowid, * FROM decisions"
        " WHERE decided_at < ? AND rowid < (SELECT max(rowid) FROM decisions)"
        " ORDER BY rowid LIMIT ?)",
        (cutoff, ARCHIVE_ROWS),
    ).fetchone()
    out = []
    for rowid, *values, features, contributions, dtype in json.loads(found):
        row = dict(zip(_ARCHIVED_COLUMNS, values, strict=True))
        row["rowid"] = rowid
        row["selected"] = bool(row["selected"])
        row["features"] = vector(bytes.fromhex(features), dtype)
        shap = bytes.fromhex(contributions) if contributions else None  # hex(NULL) is ''
        row["contributions"] = vector(shap, dtype)
        out.append(row)
    return out


def _prune(conn: Any, path: str, day: str, first: int, last: int, cutoff: str) -> None:
    """Delete the rows a part holds and list the part, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        deleted = conn.execute(
            "DELETE FROM decisions WHERE rowid BETWEEN ? AND ? AND decided_at < ?"
            " AND substr(decided_at, 1, 10) = ?",
            (first, last, cutoff, day),
        ).rowcount
        conn.execute(
            "INSERT OR REPLACE INTO archived_parts VALUES (?, ?, ?, ?, ?, ?)",
            (path, day, first, last, deleted, datetime.now().astimezone().isoformat()),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _specs(conn: Any) -> dict[str, list[str]]:
    return {h: json.loads(n) for h, n in conn.execute("SELECT * FROM feature_specs")}


def _archived_decisions(
    directory: Path, declaration_ids: list[str]
) -> dict[str, tuple[str, int, str, float]]:
    """(decided_at, 0, basis, propensity) of the latest archived decision of each id."""
    found = latest_decisions(directory, declaration_ids)
    return {d: (t, 0, b, p) for d, (t, b, p) in found.items()}


def _as_dict(row: Any) -> dict[str, Any]:
    """A stored decision as the record the API returns (features keyed by name)."""
    names = json.loads(row["names"]) if row["names"] else None
    dtype = row["vector_dtype"] or "<f8"
    features = _by_name(row["features"], names, dtype)
    contributions = (
        None if row["contributions"] is None else _by_name(row["contributions"], names, dtype)
    )
    return {
        "decision_id": row["decision_id"],
        "declaration_id": row["declaration_id"],
        "decided_at": row["decided_at"],
        "request_id": row["request_id"],
        "request_hash": row["request_hash"],
        "model": {
            "name": row["model_name"],
            "version": row["model_version"],
            "alias": row["model_alias"],
            "feature_spec_hash": row["feature_spec_hash"],
        },
        "score": row["score"],
        "expected_revenue": row["expected_revenue"],
        "risk_band": row["risk_band"],
        "risk_type": row["risk_type"],
        "decision": {
            "selected": bool(row["selected"]),
            "basis": row["basis"],
            "propensity": row["propensity"],
            "random_probability": row["random_probability"],
            "threshold": _finite(row["threshold"]),
        },
        "reasons": None if row["reasons"] is None else json.loads(row["reasons"]),
        "features": features,
        "contributions": contributions,
        "shap_base": row["shap_base"],
        "declaration": json.loads(row["declaration"]),
    }


def _by_name(blob: bytes, names: list[str] | None, dtype: str) -> dict[str, float | None]:
    """A stored vector keyed by feature name (by position without the names); float32
    values as their shortest decimal (0.1, not 0.10000000149011612)."""
    array = np.frombuffer(blob, dtype=dtype)
    values = [float(str(v)) for v in array] if array.dtype == np.float32 else array.tolist()
    if names is not None and len(names) == len(values):
        return {n: _finite(v) for n, v in zip(names, values, strict=True)}
    return {str(j): _finite(v) for j, v in enumerate(values)}
