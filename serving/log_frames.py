"""The service's decision log and control store read back as canonical frames, for a
retrain: the declaration of every decision (with its embedded ENS) and every control
result posted.

A stored declaration is parsed back exactly as ``serving.folding`` parses other
processes' decisions (``scoring_record`` of its JSON), then split into the canonical
``declarations``, ``ens_filings`` and ``ens_items`` tables; stored results become the
canonical controls table through ``serving.controls.results_frame``. A declaration
scored more than once keeps its latest decision's copy.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from canonical.frames import conform
from canonical.schema import DECLARATIONS, ENS_FILINGS, ENS_ITEMS
from serving.controls import results_frame
from serving.schemas import scoring_record

EXTRA_PREFIXES = ("extra_cat__", "extra_num__")


def records_frames(records: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Canonical tables of scoring records (``scoring_record`` dicts, ENS embedded):
    declarations, and the ENS versions and items they carry (each filing version once)."""
    rows, versions, items = [], {}, {}
    for record in records:
        row = {k: v for k, v in record.items() if k != "ens"}
        for key in [k for k in row if k.startswith(EXTRA_PREFIXES)]:
            row[key.split("__", 1)[1]] = row.pop(key)
        rows.append(row)
        ens = record.get("ens") or {}
        for v in ens.get("versions", ()):
            versions[(v["filing_id"], v.get("version"))] = v
        for i in ens.get("items", ()):
            items[(i["filing_id"], i.get("version"), i.get("item_no"))] = i
    out = {"declarations": _canonical(rows, DECLARATIONS.names, "declarations")}
    if versions:
        out["ens_filings"] = _canonical(list(versions.values()), ENS_FILINGS.names, "ens_filings")
        out["ens_items"] = _canonical(list(items.values()), ENS_ITEMS.names, "ens_items")
    return out


def _canonical(rows: list[dict[str, Any]], names: tuple[str, ...], table: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for name in names:
        if name not in frame:
            frame[name] = None
    for column in frame.columns:
        if column.endswith("_at") or column in ("expected_arrival",):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return conform(frame, table)


def logged_frames(database: Path) -> dict[str, pd.DataFrame]:
    """The declarations of every logged decision (latest copy per declaration id, in log
    order) with their ENS, and every stored control result, as canonical frames."""
    if not database.is_file():
        raise FileNotFoundError(f"{database}: no decision log")
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        stored = [r[0] for r in _read(conn, "SELECT declaration FROM decisions ORDER BY rowid")]
        results = [r[0] for r in _read(conn, "SELECT result FROM control_results ORDER BY rowid")]
    finally:
        conn.close()
    latest: dict[str, dict[str, Any]] = {}
    for text in stored:
        record = scoring_record(json.loads(text))
        latest.pop(record["declaration_id"], None)
        latest[record["declaration_id"]] = record
    frames = records_frames(list(latest.values())) if latest else {}
    frames["controls"] = results_frame(results)
    return frames


def _read(conn: sqlite3.Connection, query: str) -> list[tuple[Any, ...]]:
    """Rows of ``query``; none when its table was never created."""
    try:
        return conn.execute(query).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


__all__ = ["logged_frames", "records_frames"]
