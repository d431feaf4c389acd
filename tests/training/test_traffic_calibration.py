"""Calibration on traffic: inverse-propensity weights make the controlled rows stand for
all traffic, so the calibrated score's mean is the hit rate of all declarations."""

from __future__ import annotations

import numpy as np
import pytest

from models.blend import fit_calibrator
from models.lgbm import ipw_weights
from training.traffic import poisson_interval, traffic_calibration, traffic_line


def _population(n: int = 400_000, seed: int = 0) -> dict[str, np.ndarray]:
    """A raw score that ranks, a hit rate that depends on it, and a past policy that
    selects on a noisy view of the outcome itself (beyond the score), with 2 % random."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-4.2 + 1.1 * z)))
    y = (rng.random(n) < p).astype(float)
    raw = 1 / (1 + np.exp(-(z + rng.normal(0, 0.5, n))))  # the model's score, uncalibrated
    suspicion = 2.5 * y * (rng.random(n) < 0.6) + rng.normal(size=n)
    p_rule = 0.08 / (1 + np.exp(-(suspicion - 2.0)))
    propensity = 1 - (1 - 0.02) * (1 - p_rule)
    controlled = rng.random(n) < propensity
    random = controlled & (rng.random(n) < 0.02 / propensity)
    return {
        "y": y,
        "raw": raw,
        "propensity": propensity,
        "controlled": controlled,
        "basis": np.where(random, "random", "rule"),
    }


@pytest.mark.parametrize("kind", ["platt", "isotonic"])
def test_ipw_calibration_predicts_the_rate_of_all_traffic(kind: str) -> None:
    w = _population()
    c = w["controlled"]
    assert w["y"][c].mean() > 1.5 * w["y"].mean()  # the controls over-represent hits
    weighted = fit_calibrator(w["raw"][c], w["y"][c], kind, ipw_weights(w["propensity"][c]))
    plain = fit_calibrator(w["raw"][c], w["y"][c], kind)
    truth = w["y"].mean()
    assert weighted.apply(w["raw"]).mean() == pytest.approx(truth, rel=0.1)
    assert plain.apply(w["raw"]).mean() > 1.4 * truth


def test_predicted_against_found_hits_on_the_random_controls() -> None:
    w = _population()
    c = w["controlled"]
    weighted = fit_calibrator(w["raw"][c], w["y"][c], "platt", ipw_weights(w["propensity"][c]))
    score = weighted.apply(w["raw"][c])
    out = traffic_calibration(score, w["y"][c], w["basis"][c])
    random = w["basis"][c] == "random"
    assert out["found_hits_random_controls"] == w["y"][c][random].sum()
    assert out["predicted_hits_random_controls"] == pytest.approx(score[random].sum())
    assert out["found_hits_low_random_controls"] <= out["predicted_hits_random_controls"]
    assert out["predicted_hits_random_controls"] <= out["found_hits_high_random_controls"]
    line = traffic_line(out)
    assert line.startswith("predicted ")
    assert "95% interval" in line
    few = np.where(np.arange(c.sum()) < 49, "random", "rule")
    assert traffic_calibration(score, w["y"][c], few) == {}
    assert traffic_line({}) == ""


def test_exact_poisson_interval_matches_the_tables() -> None:
    """Garwood's interval: 0 -> (0, 3.689), 10 -> (4.795, 18.390)."""
    assert poisson_interval(0) == pytest.approx((0.0, 3.6889), abs=1e-4)
    assert poisson_interval(10) == pytest.approx((4.7954, 18.3904), abs=1e-4)
