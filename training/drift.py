"""Population stability index (PSI) per feature: training rows against served rows.

PSI = sum over bins of (served share - training share) * ln(served share / training
share), with 10 bins at the deciles of the training distribution (ties merge bins, so a
count that is mostly 0 gets fewer) and missing values in a bin of their own. Shares
are floored at 1e-4 so an empty bin counts as rare rather than infinite. Rule of thumb:
under 0.1 stable, 0.1-0.25 moved, over 0.25 a different distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_BINS = 10
FLOOR = 1e-4
UNSTABLE = 0.25


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of values in (-inf, e0], (e0, e1], ..., (e_last, inf), then missing."""
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="left"), minlength=len(edges) + 1
    ).astype(np.float64)
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of one feature (``current`` against ``reference``, quantile bins of the latter)."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    finite = reference[~np.isnan(reference)]
    if len(finite):
        inner = np.quantile(finite, np.arange(1, bins) / bins)
        edges = np.unique(inner)
    else:
        edges = np.zeros(0)
    expected = np.maximum(_shares(reference, edges), FLOOR)
    actual = np.maximum(_shares(current, edges), FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_table(
    names: list[str],
    reference: np.ndarray,
    current: np.ndarray,
    group_of: dict[str, str] | None = None,
    used: np.ndarray | None = None,
) -> pd.DataFrame:
    """PSI of every column, highest first, with its feature group and whether the model
    reads it."""
    values = [psi(reference[:, j], current[:, j]) for j in range(len(names))]
    table = pd.DataFrame(
        {
            "feature": names,
            "group": [(group_of or {}).get(n, "") for n in names],
            "psi": values,
            "used_by_model": np.ones(len(names), bool) if used is None else np.asarray(used),
        }
    )
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def psi_summary(table: pd.DataFrame, prefix: str = "psi_") -> dict[str, float]:
    """Max, mean and count over 0.25, over every feature and over those the model reads."""
    out: dict[str, float] = {}
    for label, part in (("", table), ("used_", table[table["used_by_model"]])):
        values = part["psi"].to_numpy(dtype=np.float64)
        out[f"{prefix}{label}max"] = float(values.max()) if len(values) else 0.0
        out[f"{prefix}{label}mean"] = float(values.mean()) if len(values) else 0.0
        out[f"{prefix}{label}count_over_0_25"] = float((values > UNSTABLE).sum())
    return out
