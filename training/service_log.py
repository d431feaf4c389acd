"""The service's decision log and control store, read (read-only) for reports.

The decision log (serving.decision_log) keeps one row per decision in SQLite; older
rows may have been moved to a Parquet archive by day. ``read_decisions`` reads a period
from the database and, when given ``archived`` (e.g.
``functools.partial(serving.archive.read_archive, directory)``, same columns and
bounds), from the archive too, one row per decision id. Control results are read as the
canonical controls table through ``serving.controls.results_frame``, the store's own
conversion.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from serving.controls import results_frame

# What reports read of a decision (the stored declaration and feature vector included).
COLUMNS = (
    "decision_id",
    "declaration_id",
    "decided_at",
    "model_version",
    "feature_spec_hash",
    "score",
    "risk_type",
    "selected",
    "basis",
    "propensity",
    "random_probability",
    "reasons",
    "declaration",
)
ArchiveReader = Callable[[datetime, datetime, list[str]], pd.DataFrame]


def _bound(value: date | datetime) -> datetime:
    """A date as midnight UTC; a naive datetime read as UTC."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _connect(database: Path) -> sqlite3.Connection:
    """A read-only connection (a report never writes the service's files)."""
    if not Path(database).exists():
        raise FileNotFoundError(f"{database}: no decision log here")
    conn = sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def read_decisions(
    database: Path,
    start: date | datetime,
    end: date | datetime,
    columns: tuple[str, ...] = COLUMNS,
    archived: ArchiveReader | None = None,
) -> pd.DataFrame:
    """Decisions with ``start <= decided_at < end`` (UTC), oldest first, one row per
    decision id; ``decided_at`` as UTC timestamps."""
    low, high = _bound(start), _bound(end)
    wanted = list(dict.fromkeys(["decision_id", "decided_at", *columns]))
    conn = _connect(database)
    try:
        # ISO 8601 strings compare as dates: a day's margin each side, exact below
        frame = pd.read_sql_query(
            f"SELECT {', '.join(wanted)} FROM decisions"
            " WHERE decided_at >= ? AND decided_at < ? ORDER BY rowid",
            conn,
            params=(
                (low - timedelta(days=1)).date().isoformat(),
                (high + timedelta(days=1)).date().isoformat(),
            ),
        )
    finally:
        conn.close()
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True, format="ISO8601")
    if archived is not None:
        old = archived(low, high, wanted)
        if len(old):
            old = old.assign(decided_at=pd.to_datetime(old["decided_at"], utc=True))
            frame = pd.concat([old[wanted], frame], ignore_index=True)
    inside = (frame["decided_at"] >= low) & (frame["decided_at"] < high)
    frame = frame[inside].drop_duplicates("decision_id", keep="last")
    return frame.sort_values("decided_at", kind="stable").reset_index(drop=True)


def latest_per_declaration(decisions: pd.DataFrame) -> pd.DataFrame:
    """The last decision on each declaration (a retry or a re-score replaces the first)."""
    return decisions.drop_duplicates("declaration_id", keep="last").reset_index(drop=True)


def read_controls(database: Path) -> pd.DataFrame:
    """Every stored control result as the canonical controls table."""
    conn = _connect(database)
    try:
        rows = conn.execute("SELECT result FROM control_results ORDER BY rowid").fetchall()
    except sqlite3.OperationalError as exc:  # no result posted yet
        if "no such table" not in str(exc):
            raise
        rows = []
    finally:
        conn.close()
    return results_frame([r[0] for r in rows])


def feature_names(database: Path) -> dict[str, list[str]]:
    """Feature names by feature spec hash, as the log registered them."""
    conn = _connect(database)
    try:
        rows = conn.execute("SELECT feature_spec_hash, names FROM feature_specs").fetchall()
    finally:
        conn.close()
    return {h: json.loads(names) for h, names in rows}


def feature_matrix(database: Path, decisions: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The stored feature vectors of ``decisions`` (their decision ids) as a float64 matrix
    with columns ``names``: float64 or float32 blobs (the width tells which), rows of
    another feature spec (a different length) all NaN."""
    ids = decisions["decision_id"].tolist()
    blobs: dict[str, bytes] = {}
    conn = _connect(database)
    try:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            blobs.update(
                conn.execute(
                    f"SELECT decision_id, features FROM decisions WHERE decision_id IN ({marks})",
                    chunk,
                ).fetchall()
            )
    finally:
        conn.close()
    out = np.full((len(ids), len(names)), np.nan)
    width = len(names)
    for row, decision_id in enumerate(ids):
        blob = blobs.get(decision_id)
        if blob is None:
            continue
        for dtype in ("<f8", "<f4"):
            if len(blob) == width * np.dtype(dtype).itemsize:
                out[row] = np.frombuffer(blob, dtype=dtype)
                break
    return out
