"""Metrics on the random controls: the unbiased sample of traffic, at every budget."""

from __future__ import annotations

import numpy as np
import pytest

from models.metrics import budget_metrics
from training.evaluate import evaluate, random_control_metrics, summary_line


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
    assert "on the 800 random controls alone (unbiased): precision@5%" in line
    few = {k: v for k, v in m.items() if "random_controls" not in k}
    assert "random controls" not in summary_line(few)
