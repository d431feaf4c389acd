"""Metrics on the random controls: the unbiased sample of traffic, at every budget."""

from __future__ import annotations

import numpy as np
import pytest

from models.metrics import budget_metrics
from training.estimates import budget_estimates
from training.evaluate import (
    binomial_interval,
    evaluate,
    random_control_metrics,
    summary_line,
    traffic_estimates,
)


def _rows(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    y = (rng.random(n) < scores * 0.2).astype(float)
    revenue = y * rng.lognormal(6, 1, n)
    mode = np.array(["air"] * n, dtype=object)
    return scores, y, revenue, mode, np.zeros(n, dtype=bool)


def test_every_budget_is_measured_on_the_random_controls_alone() -> None:
    scores, y, revenue, mode, aeo = _rows(4000)
    basis = np.where(np.arange(4000) % 5 == 0, "random", "model")
    out = evaluate(scores, y, revenue, mode, aeo, basis)
    random = basis == "random"
    expected = budget_metrics(scores[random], y[random], revenue[random])
    for name in ("precision", "recall", "revenue"):
        for n in (1, 2, 5, 10):
            key = f"{name}_at_{n}"
            assert out[f"{key}_random_controls"] == pytest.approx(expected[key])
    assert out["rows_random_controls"] == 800
    assert out["base_rate_random_controls"] == pytest.approx(y[random].mean())
    # the headline figures stay on every labelled row: the two differ here
    assert out["recall_at_10"] != out["recall_at_10_random_controls"]


def test_too_few_random_controls_give_no_estimate() -> None:
    scores, y, revenue, _, _ = _rows(1000)
    basis = np.where(np.arange(1000) < 49, "random", "model")
    assert random_control_metrics(scores, y, revenue, basis) == {}


def test_the_summary_line_adds_the_unbiased_estimate_when_there_is_one() -> None:
    scores, y, revenue, mode, aeo = _rows(4000)
    basis = np.where(np.arange(4000) % 5 == 0, "random", "model")
    m = {f"test_blend_{k}": v for k, v in evaluate(scores, y, revenue, mode, aeo, basis).items()}
    line = summary_line(m)
    assert line.startswith(f"precision@5% {m['test_blend_precision_at_5']:.3f} (base rate")
    assert "on the 800 random controls alone (unbiased, what controls would find" in line
    low, high = (
        m["test_blend_precision_at_5_random_controls_low"],
        m["test_blend_precision_at_5_random_controls_high"],
    )
    assert low <= m["test_blend_precision_at_5_random_controls"] <= high
    assert f"precision@5% {m['test_blend_precision_at_5_random_controls']:.3f} ({low:.3f}-" in line
    few = {k: v for k, v in m.items() if "random_controls" not in k}
    assert "random controls" not in summary_line(few)


def test_binomial_interval_is_exact_at_the_edges() -> None:
    assert binomial_interval(0, 10)[0] == 0.0
    assert binomial_interval(10, 10)[1] == 1.0
    low, high = binomial_interval(3, 3)
    # three hits out of three: the rule-of-three lower bound (0.025 ** (1 / 3))
    assert low == pytest.approx(0.025 ** (1 / 3))
    assert high == 1.0
    assert np.isnan(binomial_interval(0, 0)[0])


def test_traffic_estimates_place_the_controls_among_all_traffic() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    traffic_rows = np.arange(100, 100 + 2 * n, 2)  # declaration positions of the window
    scores = rng.random(n)
    hit = rng.random(n) < scores * 0.3
    controlled = (scores > 0.95) | (rng.random(n) < 0.1)
    p = np.where(scores > 0.95, 1.0, 0.1)
    revenue = np.where(hit, 100.0, 0.0)
    labelled = np.flatnonzero(controlled)
    # a labelled row outside the window is ignored
    rows = np.append(traffic_rows[labelled], 10 * n + 1)
    y = np.append(hit[labelled], 1.0)
    out = traffic_estimates(
        scores,
        traffic_rows,
        rows,
        y,
        np.append(revenue[labelled], 5.0),
        np.append(p[labelled], 0.1),
    )
    expected = budget_estimates(scores, hit & controlled, controlled, p, revenue * controlled)
    assert out["ips_precision_at_5"] == pytest.approx(expected["precision@5"].value)
    assert out["ips_recall_at_10_low"] == pytest.approx(expected["recall@10"].low)
    assert out["ips_revenue_at_1_high"] == pytest.approx(expected["revenue@1"].high)
    assert out["ips_controls"] == controlled.sum()
    m = {f"test_blend_{k}": v for k, v in out.items()}
    m.update({"test_blend_precision_at_5": 0.5, "test_blend_base_rate": 0.1})
    m.update({"test_blend_recall_at_5": 0.3, "test_blend_revenue_at_5": 0.4})
    line = summary_line(m)
    assert "on all traffic (inverse propensity weighting" in line
    assert (
        f"precision@5% {out['ips_precision_at_5']:.3f} ({out['ips_precision_at_5_low']:.3f}-"
        in line
    )
