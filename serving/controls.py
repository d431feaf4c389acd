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
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from canonical.frames import conform, write_table
from canonical.schema import CONTROLS
from serving.decision_log import DecisionLog
from serving.storage import Database, chunks, insert_rows, placeholders

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


def results_frame(stored: list[str]) -> pd.DataFrame:
    """Stored results (their ``result`` JSON) as the canonical controls table."""
    frame = pd.DataFrame([json.loads(r) for r in stored], columns=CONTROLS.names)
    frame["controlled_at"] = pd.to_datetime(frame["controlled_at"], utc=True, format="ISO8601")
    return conform(frame, "controls")


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


def content_hash(fields: dict[str, Any]) -> str:
    """sha256 of a result's fields (JSON, keys sorted, nulls dropped). Stored results are
    hashed with their canonical defaults (``with_defaults``), so a retry spelling out a
    default is the same result."""
    clean = {k: v for k, v in fields.items() if v is not None}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()


def with_defaults(result: dict[str, Any]) -> dict[str, Any]:
    """The result's canonical fields, missing ones set to their canonical default."""
    out = {f.name: result.get(f.name) for f in CONTROLS.fields}
    for f in CONTROLS.fields:
        if out[f.name] is None and f.default is not None:
            out[f.name] = f.default
    return out


class ControlStore:
    """The control_results table beside the decision log."""

    def __init__(self, path: Path, decisions: DecisionLog) -> None:
        self.db = Database(path, SCHEMA)
        self.decisions = decisions

    @staticmethod
    def _completed(
        defaulted: dict[str, Any], decisions: dict[str, tuple[str, float]]
    ) -> dict[str, Any]:
        """The result (with its canonical defaults) and, when this service selected the
        declaration, its basis and propensity. A control of a declaration it did not select
        was chosen outside this policy: its propensity is unknown, and filling in the random
        arm's p would weight it in a retrain as if it were a random control."""
        out = dict(defaulted)
        known = out["declaration_id"] and decisions.get(out["declaration_id"])
        if known and out["selection_basis"] == "unknown" and out["propensity"] is None:
            basis, propensity = known
            if basis in ("model", "random"):
                out["selection_basis"] = BASIS[basis]
                out["propensity"] = propensity if propensity > 0 else None
        return out

    def record(self, results: list[dict[str, Any]]) -> list[Stored]:
        """Store ``results`` (JSON-ready dicts) in one transaction, all or nothing.

        A few statements per 500 results, never a few per result (see
        ``serving.storage``: beside a busy thread, 5,000 results took 69.5 s one by
        one, 0.48 s now)."""
        ids = [r["declaration_id"] for r in results if r.get("declaration_id")]
        decisions = self.decisions.decisions_of(ids)
        defaulted = [with_defaults(r) for r in results]
        hashes = [content_hash(d) for d in defaulted]
        completed = [self._completed(d, decisions) for d in defaulted]
        now = datetime.now(UTC).isoformat()
        out: list[Stored] = []
        conflicts: list[str] = []
        rows: list[tuple[str, str, str, str]] = []
        with self.db.transaction() as conn:
            known = self._stored_hashes(conn, [r["control_id"] for r in results])
            for result, digest, full in zip(results, hashes, completed, strict=True):
                cid = result["control_id"]
                stored = known.get(cid)
                if stored is None:
                    rows.append((cid, digest, now, json.dumps(full, default=str)))
                    known[cid] = digest  # a repeat later in the request is "unchanged"
                    out.append(Stored(cid, "created"))
                # results stored before the defaults entered the hash: hashed as posted
                elif stored in (digest, content_hash(result)):
                    out.append(Stored(cid, "unchanged"))
                else:
                    conflicts.append(cid)
            if conflicts:
                raise ControlConflictError(conflicts)
            insert_rows(conn, "control_results", rows)
        return out

    @staticmethod
    def _stored_hashes(conn: sqlite3.Connection, control_ids: list[str]) -> dict[str, str]:
        """content_hash of the ``control_ids`` already stored."""
        unique = list(dict.fromkeys(control_ids))
        found: dict[str, str] = {}
        for chunk in chunks(unique):
            (stored,) = conn.execute(  # one row (one step) per query: see serving.storage
                "SELECT json_group_object(control_id, content_hash) FROM control_results"
                f" WHERE control_id IN ({placeholders(len(chunk))})",
                chunk,
            ).fetchone()
            found.update(json.loads(stored))
        return found

    def frame(self) -> pd.DataFrame:
        """All stored results as the canonical controls table."""
        with self.db.reading() as conn:
            rows = conn.execute("SELECT result FROM control_results ORDER BY rowid").fetchall()
        return results_frame([r["result"] for r in rows])

    def export(self, path: Path) -> Path:
        """Write the stored results as canonical ``controls`` Parquet."""
        return write_table(self.frame(), "controls", path)

    def close(self) -> None:
        self.db.close()
