"""Ranking metrics of customs targeting (definitions in shared/DOMAIN.md).

Controls are a fixed budget: select the top k = round(N * n / 100) by score, ties
broken deterministically (by position), exactly k items.
"""

from __future__ import annotations

import numpy as np

BUDGETS = (1, 2, 5, 10)


def top_k(scores: np.ndarray, share_percent: float) -> np.ndarray:
    """Indices of the top round(N * n / 100) scores; ties go to the earlier row."""
    n = len(scores)
    k = round(n * share_percent / 100)
    order = np.lexsort((np.arange(n), -np.asarray(scores, dtype=np.float64)))
    return order[:k]


def at_budget(
    scores: np.ndarray, y: np.ndarray, revenue: np.ndarray, share_percent: float
) -> dict[str, float]:
    """precision, recall, revenue share at n % and their normalised forms."""
    y = np.asarray(y, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
    picked = top_k(scores, share_percent)
    k = len(picked)
    hits, total_hits = y[picked].sum(), y.sum()
    caught, total_revenue = revenue[picked].sum(), revenue.sum()
    precision = hits / k if k else 0.0
    recall = hits / total_hits if total_hits else 0.0
    revenue_share = caught / total_revenue if total_revenue else 0.0
    best_precision = min(total_hits / k, 1.0) if k else 0.0
    best_recall = min(k / total_hits, 1.0) if total_hits else 0.0
    best_revenue = np.sort(revenue)[::-1][:k].sum() / total_revenue if total_revenue else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "revenue": float(revenue_share),
        "norm_precision": float(precision / best_precision) if best_precision else 0.0,
        "norm_recall": float(recall / best_recall) if best_recall else 0.0,
        "norm_revenue": float(revenue_share / best_revenue) if best_revenue else 0.0,
    }


def budget_metrics(
    scores: np.ndarray, y: np.ndarray, revenue: np.ndarray, budgets: tuple[int, ...] = BUDGETS
) -> dict[str, float]:
    """Flat dict ``precision_at_5`` etc. for every budget."""
    out: dict[str, float] = {}
    for n in budgets:
        for name, value in at_budget(scores, y, revenue, n).items():
            out[f"{name}_at_{n}"] = value
    return out


def precision_at(scores: np.ndarray, y: np.ndarray, share_percent: float) -> float:
    picked = top_k(scores, share_percent)
    return float(np.asarray(y, dtype=np.float64)[picked].mean()) if len(picked) else 0.0


def expected_calibration_error(prob: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-count bins, weighted by size."""
    prob, y = np.asarray(prob, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(prob) == 0:
        return 0.0
    order = np.argsort(prob, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            error += len(chunk) * abs(y[chunk].mean() - prob[chunk].mean())
    return float(error / len(prob))
