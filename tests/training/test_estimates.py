"""IPS estimates on all traffic: unbiased over many simulated windows, intervals that cover
the truth near their nominal rate, and a naive (unweighted) estimate that does not."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from models.metrics import top_k
from training.estimates import Estimate, budget_estimates, difference

SEEDS = 240
N = 20_000


@dataclass(frozen=True)
class Window:
    """One simulated window: the truth for every row, and what the logging policy saw."""

    scores: np.ndarray  # the model evaluated
    other: np.ndarray  # a weaker model on the same rows
    hit: np.ndarray  # a control would find an irregularity (known for every row here)
    revenue: np.ndarray
    controlled: np.ndarray
    propensity: np.ndarray


def simulate(seed: int, p_random: float = 0.1, model_rate: float = 0.04) -> Window:
    """Irregular declarations found with detection 0.7; a logging model controls its top
    ``model_rate`` (propensity 1), the random arm every other row with ``p_random``."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=N)
    irregular = rng.random(N) < 1 / (1 + np.exp(3.5 - 1.5 * risk))
    hit = irregular & (rng.random(N) < 0.7)
    revenue = np.where(hit, rng.lognormal(7, 1, N), 0.0)
    model = np.zeros(N, dtype=bool)
    model[top_k(risk + rng.normal(size=N), model_rate * 100)] = True
    random = ~model & (rng.random(N) < p_random)
    return Window(
        scores=risk + rng.normal(0, 0.7, N),
        other=risk + rng.normal(0, 1.2, N),
        hit=hit,
        revenue=revenue,
        controlled=model | random,
        propensity=np.where(model, 1.0, p_random),
    )


def truth(scores: np.ndarray, w: Window, share: float) -> dict[str, float]:
    """What controls would find in the top ``share`` of the window, from every row."""
    picked = top_k(scores, share * 100)
    return {
        "precision": w.hit[picked].mean(),
        "recall": w.hit[picked].sum() / w.hit.sum(),
        "revenue": w.revenue[picked].sum() / w.revenue.sum(),
    }


def _observed(w: Window) -> tuple[np.ndarray, np.ndarray]:
    """Hits and revenue as a log holds them: unknown (here 0) where not controlled."""
    return np.where(w.controlled, w.hit, False), np.where(w.controlled, w.revenue, 0.0)


@pytest.fixture(scope="module")
def runs() -> list[tuple[dict[str, Estimate], dict[str, float], Estimate, float, float]]:
    """Per seed: the estimates at 5 %, the truth, the paired difference and its truth,
    and the naive precision@5 (hit rate of the controlled rows in the top 5 %)."""
    out = []
    for seed in range(SEEDS):
        w = simulate(seed)
        hit, revenue = _observed(w)
        est = budget_estimates(w.scores, hit, w.controlled, w.propensity, revenue, (0.05,))
        diff = difference(w.scores, w.other, hit, w.controlled, w.propensity, revenue)
        true_diff = truth(w.scores, w, 0.05)["precision"] - truth(w.other, w, 0.05)["precision"]
        picked = top_k(w.scores, 5)
        naive = hit[picked][w.controlled[picked]].mean()
        out.append((est, truth(w.scores, w, 0.05), diff, true_diff, naive))
    return out


def _tolerance(errors: np.ndarray) -> float:
    """Three standard errors of the mean error over the seeds."""
    return 3 * errors.std(ddof=1) / np.sqrt(len(errors))


@pytest.mark.parametrize("metric", ["precision", "recall", "revenue"])
def test_the_estimates_are_unbiased_over_the_seeds(runs: list, metric: str) -> None:
    errors = np.array([est[f"{metric}@5"].value - t[metric] for est, t, *_ in runs])
    assert abs(errors.mean()) < _tolerance(errors)


def test_ignoring_the_weights_is_biased(runs: list) -> None:
    # the hit rate of the controlled rows in the top 5 % over-represents the model arm
    errors = np.array([naive - t["precision"] for _, t, _, _, naive in runs])
    assert errors.mean() > 5 * _tolerance(errors)


@pytest.mark.parametrize(
    ("metric", "lowest"), [("precision", 0.90), ("recall", 0.90), ("revenue", 0.88)]
)
def test_the_intervals_cover_the_truth_near_the_nominal_rate(
    runs: list, metric: str, lowest: float
) -> None:
    covered = [
        est[f"{metric}@5"].low <= t[metric] <= est[f"{metric}@5"].high for est, t, *_ in runs
    ]
    assert lowest <= np.mean(covered) <= 0.985


def test_the_paired_difference_is_unbiased_and_covers(runs: list) -> None:
    errors = np.array([d.value - true for *_, d, true, _ in runs])
    assert abs(errors.mean()) < _tolerance(errors)
    covered = np.mean([d.low <= true <= d.high for *_, d, true, _ in runs])
    assert 0.90 <= covered <= 0.985


def test_the_interval_narrows_with_a_larger_random_arm() -> None:
    widths = []
    for p in (0.02, 0.2):
        w = simulate(0, p_random=p)
        hit, revenue = _observed(w)
        e = budget_estimates(w.scores, hit, w.controlled, w.propensity, revenue)["precision@5"]
        widths.append(e.high - e.low)
    assert widths[1] < widths[0] / 2


def test_rows_all_controlled_by_the_model_arm_are_known_exactly() -> None:
    w = simulate(1)
    every = np.ones(N, dtype=bool)
    est = budget_estimates(w.scores, w.hit, every, np.ones(N), w.revenue)
    assert set(est) == {
        f"{m}@{n}" for m in ("precision", "recall", "revenue") for n in (1, 2, 5, 10)
    }
    for share in (0.01, 0.02, 0.05, 0.10):
        t = truth(w.scores, w, share)
        for metric, value in t.items():
            e = est[f"{metric}@{share * 100:g}"]
            assert e.low == pytest.approx(value)
            assert e.high == pytest.approx(value)


def test_no_random_hit_in_the_top_still_gives_a_real_upper_bound() -> None:
    # three random controls, none a hit: precision 0, but not known to be 0
    n = 1000
    scores = np.linspace(1, 0, n)
    controlled = np.zeros(n, dtype=bool)
    controlled[[3, 40, 500]] = True
    zeros = np.zeros(n)
    e = budget_estimates(scores, zeros.astype(bool), controlled, np.full(n, 0.05), zeros)
    assert e["precision@10"].value == 0.0
    assert e["precision@10"].low == 0.0
    assert e["precision@10"].high > 0.1


def test_every_figure_says_it_estimates_what_controls_find() -> None:
    w = simulate(2)
    hit, revenue = _observed(w)
    est = budget_estimates(w.scores, hit, w.controlled, w.propensity, revenue)
    assert all("what controls would find" in e.quantity for e in est.values())
    assert "irregular declarations" in est["recall@5"].quantity


def test_a_model_against_itself_differs_by_exactly_nothing() -> None:
    w = simulate(3)
    hit, revenue = _observed(w)
    d = difference(w.scores, w.scores, hit, w.controlled, w.propensity, revenue, "recall@10")
    assert (d.value, d.low, d.high) == (0.0, 0.0, 0.0)


def test_bad_inputs_are_refused_with_what_is_wrong() -> None:
    w = simulate(4)
    hit, revenue = _observed(w)
    zero = np.where(w.controlled, 0.0, 0.5)
    with pytest.raises(ValueError, match="propensity outside"):
        budget_estimates(w.scores, hit, w.controlled, zero, revenue)
    with pytest.raises(ValueError, match="hit has 10 rows"):
        budget_estimates(w.scores, hit[:10], w.controlled, w.propensity, revenue)
    with pytest.raises(ValueError, match="unknown metric"):
        difference(w.scores, w.other, hit, w.controlled, w.propensity, revenue, "auc")
