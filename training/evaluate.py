"""Evaluation as customs does it: ranking metrics at fixed budgets on the test window,
plus AUCs, calibration, per transport mode, AEO vs non-AEO detection, and an unbiased
estimate from the random controls."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from models.metrics import budget_metrics, expected_calibration_error, precision_at, top_k


def _safe_auc(fn: object, y: np.ndarray, s: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(fn(y, s))  # type: ignore[operator]


def evaluate(
    scores: np.ndarray,
    y: np.ndarray,
    revenue: np.ndarray,
    mode: np.ndarray,
    aeo: np.ndarray,
    basis: np.ndarray,
    calibrated: bool = True,
) -> dict[str, float]:
    """All metrics of one score vector over the labelled test rows."""
    out = budget_metrics(scores, y, revenue)
    out["pr_auc"] = _safe_auc(average_precision_score, y, scores)
    out["roc_auc"] = _safe_auc(roc_auc_score, y, scores)
    if calibrated:
        out["ece"] = expected_calibration_error(scores, y)
    out["base_rate"] = float(np.mean(y)) if len(y) else 0.0
    picked = np.zeros(len(y), dtype=bool)
    picked[top_k(scores, 5)] = True
    for group, mask in (("aeo", aeo), ("non_aeo", ~aeo)):
        hits = (y > 0) & mask
        out[f"detection_at_5_{group}"] = float(picked[hits].mean()) if hits.any() else float("nan")
        out[f"selected_share_at_5_{group}"] = (
            float(picked[mask].mean()) if mask.any() else float("nan")
        )
    for m in np.unique(mode[mode != None]):  # noqa: E711
        rows = mode == m
        if rows.sum() >= 50:
            out[f"precision_at_5_mode_{m}"] = precision_at(scores[rows], y[rows], 5)
    random = basis == "random"
    if random.sum() >= 50:
        out["precision_at_5_random_controls"] = precision_at(scores[random], y[random], 5)
        out["base_rate_random_controls"] = float(y[random].mean())
    return out
