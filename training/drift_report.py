"""`targeting drift`: a bundle's reference against the recent traffic of its decision log.

Recent traffic is the decisions of a period (their stored feature vectors, scores and
declarations); the reference is the bundle's ``drift/`` (models.drift). Writes the
per-feature table (``drift.csv``), the summary (``drift_summary.json``, the dict of
training.drift.drift_summary) and a plot (``drift.png``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from models.drift import DriftReference, reference_values
from training.drift import aligned, drift_plot, drift_summary, drift_table
from training.service_log import feature_matrix, feature_names, read_decisions


@dataclass(frozen=True)
class DriftReport:
    """What the report found and where it wrote it."""

    summary: dict[str, object]
    table: pd.DataFrame
    paths: list[Path]


def recent_traffic(
    database: Path, start: date | datetime, end: date | datetime, reference: DriftReference
) -> tuple[np.ndarray, np.ndarray, dict[str, list[object]]]:
    """Feature rows (in the reference's columns), scores and party/code values of the
    decisions of a period."""
    columns = ("decision_id", "feature_spec_hash", "score", "declaration")
    decisions = read_decisions(database, start, end, columns)
    names = feature_names(database)
    parts = []
    for spec, rows in decisions.groupby("feature_spec_hash", sort=False):
        if spec in names:
            x = feature_matrix(database, rows, names[spec])
            parts.append((rows.index.to_numpy(), aligned(reference, names[spec], x)))
    x_all = np.full((len(decisions), len(reference.names)), np.nan)
    for index, x in parts:
        x_all[index] = x
    values = reference_values(json.loads(d) for d in decisions["declaration"])
    return x_all, decisions["score"].to_numpy(dtype=np.float64), values


def drift_report(
    bundle: Path,
    database: Path,
    start: date | datetime,
    end: date | datetime,
    out: Path,
    top: int = 10,
) -> DriftReport:
    """Compare the period's traffic with the bundle's reference; write table, summary and
    plot under ``out``. ValueError when the bundle has no reference or the period no
    decision."""
    reference = DriftReference.load(bundle)
    if reference is None:
        raise ValueError(f"{bundle}: the bundle has no drift reference (trained before it)")
    x, scores, values = recent_traffic(database, start, end, reference)
    if not len(scores):
        raise ValueError(f"{database}: no decision from {start} to {end}")
    summary = drift_summary(reference, x, scores, values, top)
    summary["reference"] = reference.description
    table = drift_table(reference, x)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "drift.csv"
    table.to_csv(csv, index=False)
    summary_path = out / "drift_summary.json"
    summary_path.write_text(json.dumps(summary, indent=1))
    plot = drift_plot(reference, table, scores, out / "drift.png")
    return DriftReport(summary, table, [csv, summary_path, plot])
