"""Metrics per calendar month of a window: a pooled figure can hide a model that decays
as its state ages, so the test window is also measured month by month.

Each month is ranked on its own (the budget is a share of that month's rows), as a
customs office spends a monthly budget; rows and positives partition the window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.metrics import at_budget

MONTH_BUDGETS = (1, 5, 10)


def month_of(seconds: np.ndarray) -> np.ndarray:
    """Calendar month (UTC) of each time, as 'YYYY-MM'."""
    stamps = pd.to_datetime(np.asarray(seconds, dtype=np.int64), unit="s", utc=True)
    return np.asarray(stamps.strftime("%Y-%m"), dtype=object)


def monthly_metrics(
    scores: np.ndarray,
    y: np.ndarray,
    revenue: np.ndarray,
    seconds: np.ndarray,
    budgets: tuple[int, ...] = MONTH_BUDGETS,
) -> pd.DataFrame:
    """One row per month: rows, positives, precision / recall / revenue at each budget."""
    months = month_of(seconds)
    out = []
    for month in sorted(set(months)):
        rows = months == month
        record: dict[str, object] = {
            "month": month,
            "rows": int(rows.sum()),
            "positives": float(np.sum(y[rows])),
        }
        for n in budgets:
            m = at_budget(scores[rows], y[rows], revenue[rows], n)
            for name in ("precision", "recall", "revenue"):
                record[f"{name}_at_{n}"] = m[name]
        out.append(record)
    columns = ["month", "rows", "positives"] + [
        f"{name}_at_{n}" for n in budgets for name in ("precision", "recall", "revenue")
    ]
    return pd.DataFrame(out, columns=columns)


def monthly_metric_dict(table: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Flat MLflow metrics of ``monthly_metrics``: ``{prefix}precision_at_5_month_2025-11``."""
    out: dict[str, float] = {}
    for record in table.to_dict("records"):
        month = record.pop("month")
        for key, value in record.items():
            out[f"{prefix}{key}_month_{month}"] = float(value)
    return out
