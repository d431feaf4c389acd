"""Empirical-Bayes prior strengths: the beta-binomial fit recovers a known strength."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.smoothing import fit_prior_strength, log_gamma


def test_log_gamma_matches_the_standard_library() -> None:
    x = np.concatenate([np.logspace(-6, 6, 500), np.arange(1, 40) + 0.5])
    expected = np.array([math.lgamma(v) for v in x])
    np.testing.assert_allclose(log_gamma(x), expected, rtol=1e-13, atol=1e-10)


def _simulate(
    strength: float, entities: int, mean_controls: int, seed: int, varied_parents: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(controls, hits, parent rate) of entities whose true rates are Beta(m p, m (1 - p))."""
    rng = np.random.default_rng(seed)
    parent = rng.choice([0.01, 0.05, 0.2], entities) if varied_parents else np.full(entities, 0.03)
    controls = 1 + rng.poisson(mean_controls - 1, entities)
    theta = rng.beta(strength * parent, strength * (1 - parent))
    return controls, rng.binomial(controls, theta), parent


@pytest.mark.parametrize(
    ("strength", "entities", "mean_controls"),
    [(2.0, 2_000, 10), (20.0, 3_000, 20), (300.0, 5_000, 100), (1_000.0, 5_000, 300)],
)
@pytest.mark.parametrize("varied_parents", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_a_known_strength(
    strength: float, entities: int, mean_controls: int, varied_parents: bool, seed: int
) -> None:
    controls, hits, parent = _simulate(strength, entities, mean_controls, seed, varied_parents)
    fitted = fit_prior_strength(controls, hits, parent)
    assert fitted is not None
    assert strength / 1.5 < fitted < strength * 1.5


def test_strengths_an_order_of_magnitude_apart_are_told_apart() -> None:
    goods = fit_prior_strength(*_simulate(2.0, 2_000, 10, 3, False))
    parties = fit_prior_strength(*_simulate(500.0, 2_000, 100, 3, False))
    assert goods is not None
    assert parties is not None
    assert parties > 50 * goods


def test_clipped_to_the_bounds() -> None:
    # Every entity at exactly its parent's rate (no spread): the strength runs to the top.
    controls = np.full(200, 50)
    hits = np.full(200, 5)
    assert fit_prior_strength(controls, hits, np.full(200, 0.1), (0.5, 5000.0)) == 5000.0
    # All-or-nothing entities (maximal spread): it runs to the bottom.
    hits = np.where(np.arange(200) % 10 == 0, 50, 0)
    assert fit_prior_strength(controls, hits, np.full(200, 0.1), (0.5, 5000.0)) == 0.5


def test_too_few_informative_entities_give_none() -> None:
    # Entities with one control say nothing of the spread between entities.
    assert fit_prior_strength(np.ones(1000), np.zeros(1000), np.full(1000, 0.05)) is None
    assert fit_prior_strength(np.array([5, 5, 1]), np.array([1, 0, 1]), np.full(3, 0.1)) is None


def test_a_weak_hyperprior_holds_thin_data_near_its_centre_and_yields_to_rich_data() -> None:
    thin = _simulate(20.0, 12, 4, 5, False)
    plain = fit_prior_strength(*thin)
    held = fit_prior_strength(*thin, prior=(20.0, 2.3))
    assert plain is not None
    assert held is not None
    assert abs(np.log(held / 20.0)) < abs(np.log(plain / 20.0))
    rich = _simulate(500.0, 5_000, 100, 6, False)
    free, anchored = fit_prior_strength(*rich), fit_prior_strength(*rich, prior=(20.0, 2.3))
    assert anchored == pytest.approx(free, rel=0.1)
