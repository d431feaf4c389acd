"""The durable decision log: every decision is committed here before its response is sent.

One row per declaration scored: request hash, declaration id, feature vector (float64
bytes; names in ``feature_specs`` by spec hash), model, score, reasons (and, when they
were computed, the TreeSHAP contributions and their base), decision,
propensity, threshold, timestamp, and the canonical declaration itself (needed to
explain and audit the decision; the database, unlike the logs, may hold it). A
micro-batch, and so every batch request, is written in one transaction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.storage import Database, chunks, placeholders

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
    shap_base REAL
);
CREATE INDEX IF NOT EXISTS decisions_by_declaration ON decisions (declaration_id, decided_at);
CREATE TABLE IF NOT EXISTS feature_specs (
    feature_spec_hash TEXT PRIMARY KEY,
    names TEXT NOT NULL
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
)
# Columns added after the first release: (name, SQL type), added to older logs on open.
ADDED_COLUMNS = (("contributions", "BLOB"), ("shap_base", "REAL"))
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
            None if self.reasons is None else json.dumps(self.reasons),
            np.asarray(self.features, dtype="<f8").tobytes(),
            self.declaration.decode(),
            None
            if self.contributions is None
            else np.asarray(self.contributions, dtype="<f8").tobytes(),
            self.shap_base,
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class DecisionLog:
    """Append decisions (one transaction per call) and read them back."""

    def __init__(self, path: Path) -> None:
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
                    " basis, printf('%.17g', propensity))) FROM decisions"
                    f" WHERE declaration_id IN ({placeholders(len(chunk))})",
                    chunk,
                ).fetchone()
                for declaration_id, decided_at, rowid, basis, propensity in json.loads(found):
                    row = (decided_at, rowid, basis, float(propensity))
                    if declaration_id not in latest or row[:2] > latest[declaration_id][:2]:
                        latest[declaration_id] = row
        return {k: (v[2], v[3]) for k, v in latest.items()}

    def close(self) -> None:
        self.db.close()


def _as_dict(row: Any) -> dict[str, Any]:
    """A stored decision as the record the API returns (features keyed by name)."""
    names = json.loads(row["names"]) if row["names"] else None
    features = _by_name(row["features"], names)
    contributions = None if row["contributions"] is None else _by_name(row["contributions"], names)
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


def _by_name(blob: bytes, names: list[str] | None) -> dict[str, float | None]:
    """A stored float64 vector keyed by feature name (by position without the names)."""
    values = np.frombuffer(blob, dtype="<f8").tolist()
    if names is not None and len(names) == len(values):
        return {n: _finite(v) for n, v in zip(names, values, strict=True)}
    return {str(j): _finite(v) for j, v in enumerate(values)}
