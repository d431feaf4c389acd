"""Canonical declaration dicts (ENS embedded) from a generated world, as a client sends them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def _json_value(value: Any) -> Any:
    """A frame cell as JSON: timestamps ISO 8601 (Z), numpy scalars as Python, NaN/NA None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.generic):  # numpy bool and integer scalars
        return value.item()
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        clean = {k: _json_value(v) for k, v in row.items()}
        out.append({k: v for k, v in clean.items() if v is not None})
    return out


def declaration_records(
    declarations: pd.DataFrame, filings: pd.DataFrame, items: pd.DataFrame
) -> list[dict[str, Any]]:
    """One JSON-ready dict per declaration, its ENS (every version and item) embedded."""
    ids = set(declarations["ens_id"].dropna())
    by_filing = {k: _rows(g) for k, g in filings[filings.filing_id.isin(ids)].groupby("filing_id")}
    item_rows = {k: _rows(g) for k, g in items[items.filing_id.isin(ids)].groupby("filing_id")}
    out = []
    for record in _rows(declarations):
        ens_id = record.get("ens_id")
        if ens_id in by_filing:
            record["ens"] = {"versions": by_filing[ens_id], "items": item_rows.get(ens_id, [])}
        out.append(record)
    return out
