"""Budget metrics against a brute-force reading of the definitions in shared/DOMAIN.md."""

from __future__ import annotations

import numpy as np
import pytest

from models.metrics import at_budget, budget_metrics, precision_at, top_k


def _reference(scores: list[float], y: list[float], r: list[float], n: float) -> dict[str, float]:
    """Top k = round(N n / 100) by score, ties to the earlier row, then the six ratios."""
    k = round(len(scores) * n / 100)
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    picked = ranked[:k]
    hits = sum(y[i] for i in picked)
    caught = sum(r[i] for i in picked)
    total_hits, total_revenue = sum(y), sum(r)
    out = {
        "precision": hits / k if k else 0.0,
        "recall": hits / total_hits if total_hits else 0.0,
        "revenue": caught / total_revenue if total_revenue else 0.0,
    }
    bounds = {
        "precision": min(total_hits / k, 1.0) if k else 0.0,
        "recall": min(k / total_hits, 1.0) if total_hits else 0.0,
        "revenue": sum(sorted(r, reverse=True)[:k]) / total_revenue if total_revenue else 0.0,
    }
    for name, bound in bounds.items():
        out[f"norm_{name}"] = out[name] / bound if bound else 0.0
    return out


def _case(seed: int) -> tuple[list[float], list[float], list[float]]:
    """Small N, coarse scores (many ties), sparse hits with revenue."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    scores = rng.integers(0, 6, n) / 5
    y = (rng.random(n) < rng.choice([0.0, 0.02, 0.3])).astype(float)
    revenue = np.where(y > 0, np.round(rng.lognormal(6, 2, n), 2), 0.0)
    return scores.tolist(), y.tolist(), revenue.tolist()


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("n", [1, 2, 5, 10, 2.5, 50])
def test_at_budget_is_the_brute_force_definition(seed: int, n: float) -> None:
    scores, y, r = _case(seed)
    got = at_budget(np.array(scores), np.array(y), np.array(r), n)
    want = _reference(scores, y, r, n)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_ties_go_to_the_earlier_row() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1, 0.9])
    assert top_k(scores, 50).tolist() == [1, 5, 0]
    y = np.array([0, 0, 1, 1, 0, 0])  # the tied later rows hold the hits
    assert precision_at(scores, y, 50) == 0.0


@pytest.mark.parametrize(
    ("n_rows", "share", "k"),
    [(99, 1, 1), (149, 1, 1), (151, 1, 2), (10, 4, 0), (30, 5, 2), (40, 5, 2)],
)
def test_k_is_n_times_share_rounded(n_rows: int, share: float, k: int) -> None:
    assert len(top_k(np.arange(n_rows, dtype=float), share)) == k


def test_normalised_values_reach_one_for_a_perfect_ranking() -> None:
    revenue = np.array([0, 500.0, 0, 20.0, 0, 0, 10.0, 0, 0, 0] * 10)
    y = (revenue > 0).astype(float)
    out = at_budget(revenue, y, revenue, 10)
    assert out["norm_precision"] == out["norm_recall"] == out["norm_revenue"] == 1.0
    assert out["precision"] == pytest.approx(1.0)
    assert out["recall"] == pytest.approx(10 / 30)
    assert out["revenue"] == pytest.approx(5000 / 5300)


def test_no_budget_and_no_hits_give_zero_not_nan() -> None:
    assert at_budget(np.array([0.3, 0.2]), np.array([1.0, 0.0]), np.zeros(2), 1) == {
        "precision": 0.0,
        "recall": 0.0,
        "revenue": 0.0,
        "norm_precision": 0.0,
        "norm_recall": 0.0,
        "norm_revenue": 0.0,
    }
    out = at_budget(np.arange(100.0), np.zeros(100), np.zeros(100), 5)
    assert out["precision"] == out["recall"] == out["norm_recall"] == 0.0


def test_budget_metrics_names_every_budget() -> None:
    scores, y, r = _case(3)
    out = budget_metrics(np.array(scores), np.array(y), np.array(r))
    for n in (1, 2, 5, 10):
        assert out[f"recall_at_{n}"] == _reference(scores, y, r, n)["recall"]
    assert len(out) == 24
