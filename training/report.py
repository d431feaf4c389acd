"""The test window's report: every candidate score as served and on live-label features,
per month, and the score read as a probability on the random controls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.blend import fit_calibrator
from models.train_network import NetworkData, predict_network
from training.evaluate import evaluate
from training.monthly import monthly_metric_dict, monthly_metrics
from training.refit import Models
from training.traffic import traffic_calibration


@dataclass(frozen=True)
class EvaluationWindow:
    """The labelled rows of the test window: features as served and live, and context."""

    served: NetworkData
    live: NetworkData  # the same rows on training's live-label features
    lodged: np.ndarray  # seconds
    mode: np.ndarray
    aeo: np.ndarray
    basis: np.ndarray


def candidate_scores(
    models: Models, data: NetworkData, baseline: int
) -> dict[str, tuple[np.ndarray, bool]]:
    """Trees, network, blend (calibrated) and the one-feature baseline on ``data``."""
    p_tree = models.booster.predict(data.features)
    p_net = predict_network(models.net, data.features, data.codes)["p"]
    return {
        "lgbm": (p_tree, False),
        "network": (p_net, False),
        "blend": (models.blend.score(p_tree, p_net), True),
        "baseline": (data.features[:, baseline], False),
    }


def window_metrics(
    prefix: str,
    candidates: dict[str, tuple[np.ndarray, bool]],
    data: NetworkData,
    window: EvaluationWindow,
) -> dict[str, float]:
    """``evaluate`` of every candidate, keys ``{prefix}{candidate}_{metric}``."""
    out: dict[str, float] = {}
    for label, (s, calibrated) in candidates.items():
        found = evaluate(s, data.y, data.revenue, window.mode, window.aeo, window.basis, calibrated)
        out.update({f"{prefix}{label}_{key}": value for key, value in found.items()})
    return out


def window_report(
    models: Models, window: EvaluationWindow, baseline: int
) -> tuple[dict[str, float], pd.DataFrame, dict[str, np.ndarray]]:
    """``test_*`` (as served) and ``test_live_*`` metrics, the per-month table of both,
    and every candidate's as-served scores."""
    served = candidate_scores(models, window.served, baseline)
    live = candidate_scores(models, window.live, baseline)
    metrics = window_metrics("test_", served, window.served, window)
    metrics.update(window_metrics("test_live_", live, window.live, window))
    score = served["blend"][0]
    y, revenue = window.served.y, window.served.revenue
    months = []
    for label, s in (("as_served", score), ("live_labels", live["blend"][0])):
        table = monthly_metrics(s, y, revenue, window.lodged)
        if label == "as_served":
            metrics.update(monthly_metric_dict(table, "test_blend_"))
        table.insert(0, "features", label)
        months.append(table)
    on_traffic = traffic_calibration(score, y, window.basis)
    metrics.update({f"test_blend_{k}": v for k, v in on_traffic.items()})
    scores = {label: s for label, (s, _) in served.items()}
    return metrics, pd.concat(months, ignore_index=True), scores


def unweighted_calibration_check(
    models: Models,
    valid: NetworkData,
    window: EvaluationWindow,
    kind: str,
) -> dict[str, float]:
    """Predicted hits on the test window's random controls had the calibration been
    fitted on validation's controlled rows unweighted (the comparison for IPW)."""

    def raw(data: NetworkData) -> np.ndarray:
        p_net = predict_network(models.net, data.features, data.codes)["p"]
        return models.blend.raw(models.booster.predict(data.features), p_net)

    unweighted = fit_calibrator(raw(valid), valid.y, kind)
    plain = traffic_calibration(unweighted.apply(raw(window.served)), window.served.y, window.basis)
    if not plain:
        return {}
    return {
        "test_blend_predicted_hits_random_controls_unweighted_calibration": plain[
            "predicted_hits_random_controls"
        ]
    }
