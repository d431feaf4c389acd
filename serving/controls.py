"""Control results posted by officers, kept for retraining; idempotent by control id.

A result already stored with the same content is acknowledged again ("unchanged");
the same control id with different content is a conflict and nothing of that request
is written. Missing ``selection_basis``/``propensity`` are filled from this service's
decision on the declaration, so a retrain can weight labels by 1/propensity.
``frame`` returns the results as the canonical ``controls`` table, ``export`` writes it
as canonical Parquet (``targeting train`` reads it with the declarations).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from canonical.frames import conform, write_table
from canonical.schema import CONTROLS
from serving.decision_log import DecisionLog
from serving.storage import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS control_results (
    control_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    result TEXT NOT NULL
);
"""
# This service's decision basis -> the canonical selection_basis of a control.
BASIS = {"model": "model", "random": "random", "none": "unknown"}


class ControlConflictError(ValueError):
    """Control ids already stored with different content."""

    def __init__(self, control_ids: list[str]) -> None:
        super().__init__(f"{len(control_ids)} control id(s) already recorded with other content")
        self.control_ids = control_ids


@dataclass(frozen=True)
class Stored:
    """The outcome of recording one result."""

    control_id: str
    status: str  # "created" or "unchanged"


def content_hash(result: dict[str, Any]) -> str:
    """sha256 of the result as posted (canonical JSON, keys sorted, nulls dropped)."""
    clean = {k: v for k, v in result.items() if v is not None}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()


class ControlStore:
    """The control_results table beside the decision log."""

    def __init__(self, path: Path, decisions: DecisionLog) -> None:
        self.db = Database(path, SCHEMA)
        self.decisions = decisions

    def _completed(self, result: dict[str, Any]) -> dict[str, Any]:
        """The result with canonical defaults and this service's basis/propensity filled."""
        out = {f.name: result.get(f.name) for f in CONTROLS.fields}
        for f in CONTROLS.fields:
            if out[f.name] is None and f.default is not None:
                out[f.name] = f.default
        known = out["declaration_id"] and self.decisions.decision_of(out["declaration_id"])
        if known and out["selection_basis"] == "unknown" and result.get("propensity") is None:
            basis, propensity = known
            out["selection_basis"] = BASIS[basis]
            out["propensity"] = propensity if propensity > 0 else None
        return out

    def record(self, results: list[dict[str, Any]]) -> list[Stored]:
        """Store ``results`` (JSON-ready dicts) in one transaction, all or nothing."""
        hashes = [content_hash(r) for r in results]
        completed = [self._completed(r) for r in results]
        now = datetime.now(UTC).isoformat()
        out: list[Stored] = []
        conflicts: list[str] = []
        with self.db.transaction() as conn:
            for result, digest, full in zip(results, hashes, completed, strict=True):
                cid = result["control_id"]
                row = conn.execute(
                    "SELECT content_hash FROM control_results WHERE control_id = ?", (cid,)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO control_results VALUES (?, ?, ?, ?)",
                        (cid, digest, now, json.dumps(full, default=str)),
                    )
                    out.append(Stored(cid, "created"))
                elif row["content_hash"] == digest:
                    out.append(Stored(cid, "unchanged"))
                else:
                    conflicts.append(cid)
            if conflicts:
                raise ControlConflictError(conflicts)
        return out

    def frame(self) -> pd.DataFrame:
        """All stored results as the canonical controls table."""
        with self.db.reading() as conn:
            rows = conn.execute("SELECT result FROM control_results ORDER BY rowid").fetchall()
        frame = pd.DataFrame([json.loads(r["result"]) for r in rows], columns=CONTROLS.names)
        frame["controlled_at"] = pd.to_datetime(frame["controlled_at"], utc=True, format="ISO8601")
        return conform(frame, "controls")

    def export(self, path: Path) -> Path:
        """Write the stored results as canonical ``controls`` Parquet."""
        return write_table(self.frame(), "controls", path)

    def close(self) -> None:
        self.db.close()
