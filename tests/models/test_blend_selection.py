"""The network gets blend weight only when it beats the trees by the margin."""

from __future__ import annotations

import numpy as np
import pytest

from models.blend import choose_weight, fit_blend


def _scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 4000
    y = (rng.random(n) < 0.05).astype(float)
    trees = np.clip(0.05 + 0.3 * y * (rng.random(n) < 0.5) + rng.normal(0, 0.05, n), 0, 1)
    network = np.clip(0.05 + 0.3 * y * (rng.random(n) < 0.5) + rng.normal(0, 0.05, n), 0, 1)
    return trees, network, y


def test_the_network_needs_the_margin_to_get_weight() -> None:
    trees, network, y = _scores()
    weight, scores = choose_weight(trees, network, y)
    assert weight < 1.0  # two half-informative scores: the blend beats either alone
    gain = scores[weight] - scores[1.0]
    assert gain > 0
    assert choose_weight(trees, network, y, margin=gain)[0] == weight
    assert choose_weight(trees, network, y, margin=gain + 0.001)[0] == 1.0


def test_blend_calibration_takes_sample_weights() -> None:
    trees, network, y = _scores()
    """Logistic regression's score equation: the weighted mean of the calibrated score is
    the weighted hit rate (hits counted a fifth here: far below the plain rate)."""
    weights = np.where(y > 0, 0.2, 1.0)
    plain, _ = fit_blend(trees, network, y, "platt")
    weighted, _ = fit_blend(trees, network, y, "platt", sample_weight=weights)
    assert plain.weight == weighted.weight
    raw = plain.raw(trees, network)
    rate = np.sum(weights * y) / np.sum(weights)
    assert np.average(weighted.calibrator.apply(raw), weights=weights) == pytest.approx(rate, 0.01)
    assert plain.calibrator.apply(raw).mean() == pytest.approx(y.mean(), 0.01)
    assert rate < 0.5 * y.mean()
