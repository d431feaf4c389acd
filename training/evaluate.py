"""Evaluation as customs does it: ranking metrics at fixed budgets on the test window,
plus AUCs, calibration, per transport mode, AEO vs non-AEO detection, and an unbiased
estimate from the random controls."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from models.metrics import budget_metrics, expected_calibration_error, precision_at, top_k
from training.traffic import traffic_line


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
    out.update(random_control_metrics(scores, y, revenue, basis))
    return out


def random_control_metrics(
    scores: np.ndarray, y: np.ndarray, revenue: np.ndarray, basis: np.ndarray
) -> dict[str, float]:
    """Precision, recall and revenue at every budget on the random controls alone.

    The random arm draws declarations uniformly, whatever their score, so its controls
    are a sample of all traffic: their top n % estimates what a budget of n % would
    catch on everything, free of the bias of controls chosen by earlier rules. Empty
    under 50 random controls; ``rows_random_controls`` says how large the sample is.
    """
    random = basis == "random"
    if random.sum() < 50:
        return {}
    unbiased = budget_metrics(scores[random], y[random], revenue[random])
    out = {f"{k}_random_controls": v for k, v in unbiased.items() if not k.startswith("norm_")}
    out["base_rate_random_controls"] = float(y[random].mean())
    out["rows_random_controls"] = float(random.sum())
    return out


def summary_line(metrics: dict[str, float], prefix: str = "test_blend_") -> str:
    """The test window at a 5 % budget in one line (as served), with the random controls'
    unbiased estimate and their predicted against found hits when there are enough of
    them, and the same window on live-label features when it was measured."""
    m = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    line = (
        f"precision@5% {m['precision_at_5']:.3f} (base rate {m['base_rate']:.3f}),"
        f" recall@5% {m['recall_at_5']:.3f}, revenue@5% {m['revenue_at_5']:.3f}"
    )
    if "rows_random_controls" in m:
        line += (
            f"; on the {m['rows_random_controls']:,.0f} random controls alone (unbiased):"
            f" precision@5% {m['precision_at_5_random_controls']:.3f} (base rate"
            f" {m['base_rate_random_controls']:.3f}), recall@5%"
            f" {m['recall_at_5_random_controls']:.3f}"
        )
    traffic = traffic_line(m)
    if traffic:
        line += f"; score as a probability on the random controls: {traffic}"
    live = prefix.replace("test_", "test_live_", 1) + "precision_at_5"
    if live in metrics:
        line += f"; with live-label features (not as served) precision@5% {metrics[live]:.3f}"
    return line
