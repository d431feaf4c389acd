"""Evaluation as customs does it: ranking metrics at fixed budgets on the test window,
plus AUCs, calibration, per transport mode, AEO vs non-AEO detection, and an unbiased
estimate from the random controls."""

from __future__ import annotations

import numpy as np
from scipy.stats import beta
from sklearn.metrics import average_precision_score, roc_auc_score

from models.metrics import budget_metrics, expected_calibration_error, precision_at, top_k
from training.estimates import as_metrics, budget_estimates
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
    hits = np.asarray(y[random], dtype=np.float64) > 0
    picked = np.zeros(int(random.sum()), dtype=bool)
    for n in (1, 2, 5, 10):
        picked[:] = False
        picked[top_k(scores[random], n)] = True
        for name, found, out_of in (
            ("precision", (hits & picked).sum(), picked.sum()),
            ("recall", (hits & picked).sum(), hits.sum()),
        ):
            low, high = binomial_interval(int(found), int(out_of))
            out[f"{name}_at_{n}_random_controls_low"] = low
            out[f"{name}_at_{n}_random_controls_high"] = high
    out["base_rate_random_controls"] = float(y[random].mean())
    out["rows_random_controls"] = float(random.sum())
    out["hits_random_controls"] = float(hits.sum())
    return out


def binomial_interval(found: int, out_of: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a proportion ``found / out_of``; NaN when
    ``out_of`` is 0."""
    if out_of <= 0:
        return float("nan"), float("nan")
    alpha = 1 - level
    low = 0.0 if found == 0 else float(beta.ppf(alpha / 2, found, out_of - found + 1))
    high = 1.0 if found == out_of else float(beta.ppf(1 - alpha / 2, found + 1, out_of - found))
    return low, high


def traffic_estimates(
    traffic_scores: np.ndarray,
    traffic_rows: np.ndarray,
    labelled_rows: np.ndarray,
    y: np.ndarray,
    revenue: np.ndarray,
    propensity: np.ndarray,
) -> dict[str, float]:
    """IPS estimates (training.estimates) of precision, recall and revenue at every
    budget on all the window's traffic, with 95 % intervals, as ``ips_*`` metrics.

    ``traffic_scores`` score every declaration of the window (positions
    ``traffic_rows``); the labelled (controlled) ones are at ``labelled_rows`` with their
    labels and logged propensities. Every control counts, weighted by 1 / propensity: a
    control finds only part of the irregularities, so each figure estimates what
    controls would find. Empty without any control in the window.
    """
    traffic_rows = np.asarray(traffic_rows)
    where = np.searchsorted(traffic_rows, labelled_rows)
    inside = (where < len(traffic_rows)) & (
        traffic_rows[np.minimum(where, len(traffic_rows) - 1)] == labelled_rows
    )
    if not inside.any():
        return {}
    n = len(traffic_rows)
    controlled = np.zeros(n, dtype=bool)
    hit, money, p = np.zeros(n, dtype=bool), np.zeros(n), np.ones(n)
    at = where[inside]
    controlled[at] = True
    hit[at] = np.asarray(y)[inside] > 0
    money[at] = np.asarray(revenue)[inside]
    p[at] = np.asarray(propensity)[inside]
    out = as_metrics(budget_estimates(traffic_scores, hit, controlled, p, money))
    out["ips_controls"] = float(controlled.sum())
    out["ips_sampled_hits"] = float((hit & (p < 1)).sum())
    return out


def _interval(m: dict[str, float], key: str) -> str:
    """'0.412 (0.300-0.530)' from ``key`` and its ``_low``/``_high`` neighbours (the value
    alone when they are absent: a run logged before intervals)."""
    if f"{key}_low" not in m:
        return f"{m[key]:.3f}"
    return f"{m[key]:.3f} ({m[key + '_low']:.3f}-{m[key + '_high']:.3f})"


def summary_line(metrics: dict[str, float], prefix: str = "test_blend_") -> str:
    """The test window at a 5 % budget in one line (as served), with the unbiased estimate
    on all traffic and its interval (IPS when measured, else the random controls alone),
    the random controls' predicted against found hits when there are enough of them, and
    the same window on live-label features when it was measured."""
    m = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    line = (
        f"precision@5% {m['precision_at_5']:.3f} (base rate {m['base_rate']:.3f}),"
        f" recall@5% {m['recall_at_5']:.3f}, revenue@5% {m['revenue_at_5']:.3f}"
    )
    if "ips_precision_at_5" in m:
        line += (
            f"; on all traffic (inverse propensity weighting over the"
            f" {m['ips_controls']:,.0f} controls, {m['ips_sampled_hits']:,.0f} hits at"
            f" propensity < 1; what controls would find, 95% intervals):"
            f" precision@5% {_interval(m, 'ips_precision_at_5')},"
            f" recall@5% {_interval(m, 'ips_recall_at_5')},"
            f" revenue@5% {_interval(m, 'ips_revenue_at_5')}"
        )
    elif "rows_random_controls" in m:
        hits = m.get("hits_random_controls", float("nan"))
        line += (
            f"; on the {m['rows_random_controls']:,.0f} random controls alone (unbiased, what"
            f" controls would find, {hits:,.0f} hits, 95% intervals):"
            f" precision@5% {_interval(m, 'precision_at_5_random_controls')} (base rate"
            f" {m['base_rate_random_controls']:.3f}), recall@5%"
            f" {_interval(m, 'recall_at_5_random_controls')}"
        )
    traffic = traffic_line(m)
    if traffic:
        line += f"; score as a probability on the random controls: {traffic}"
    live = prefix.replace("test_", "test_live_", 1) + "precision_at_5"
    if live in metrics:
        line += f"; with live-label features (not as served) precision@5% {metrics[live]:.3f}"
    return line
