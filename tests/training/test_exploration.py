"""Drift raises the exploration share within its bounds, never outside them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.exploration import (
    DriftSignal,
    ExplorationBounds,
    drift_signal,
    exploration_share,
    pressure,
    unseen_share,
)

BOUNDS = ExplorationBounds(0.05, 0.3)


def test_calm_traffic_keeps_the_low_bound_alarm_reaches_the_high_one() -> None:
    calm = DriftSignal(score_psi=0.02, features_moved=0.0, unseen_parties=0.05)
    assert exploration_share(calm, BOUNDS) == pytest.approx(0.05)
    for alarm in (DriftSignal(0.4, 0.0, 0.0), DriftSignal(0.0, 0.0, 0.6)):
        assert exploration_share(alarm, BOUNDS) == pytest.approx(0.3)
    moved = DriftSignal(0.0, 0.5, 0.0)  # features moved: a pressure only when given levels
    assert exploration_share(moved, BOUNDS) == pytest.approx(0.05)
    with_levels = ExplorationBounds(0.05, 0.3, features_moved=(0.4, 0.6))
    assert exploration_share(moved, with_levels) == pytest.approx(0.175)
    halfway = DriftSignal(score_psi=0.175, features_moved=0.0, unseen_parties=0.0)
    assert exploration_share(halfway, BOUNDS) == pytest.approx(0.175)


def test_share_is_monotone_in_drift_and_stays_within_bounds() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = DriftSignal(*rng.uniform(0, 0.6, 3))
        more = DriftSignal(a.score_psi + 0.05, a.features_moved, a.unseen_parties)
        share = exploration_share(a, BOUNDS)
        assert 0.05 <= share <= 0.3
        assert exploration_share(more, BOUNDS) >= share


def test_unmeasured_signal_exerts_no_pressure_and_bad_bounds_are_refused() -> None:
    assert pressure(float("nan"), (0.1, 0.25)) == 0.0
    with pytest.raises(ValueError, match="low <= high"):
        ExplorationBounds(0.4, 0.2)
    with pytest.raises(ValueError, match="calm must be below alarm"):
        ExplorationBounds(0.1, 0.2, score_psi=(0.3, 0.1))


def test_drift_signal_sees_shifted_scores_features_and_new_parties() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(4000, 5))
    same = rng.normal(size=(1000, 5))
    moved = same.copy()
    moved[:, :2] += 2.0
    before = pd.DataFrame({"importer_id": [f"I{i}" for i in range(50)]})
    old = pd.DataFrame({"importer_id": [f"I{i % 50}" for i in range(100)]})
    new = pd.DataFrame({"importer_id": [f"I{i}" for i in range(25, 125)]})
    names = [f"f{j}" for j in range(5)]
    quiet = drift_signal(names, reference, same, same[:, 0], reference[:, 0], old, before)
    loud = drift_signal(names, reference, moved, moved[:, 0], reference[:, 0], new, before)
    assert quiet.score_psi < 0.1
    assert quiet.features_moved == 0
    assert quiet.unseen_parties == 0
    assert loud.score_psi > 0.25
    assert loud.features_moved == pytest.approx(0.4)
    assert loud.unseen_parties == pytest.approx(0.75)
    assert unseen_share(new, before.iloc[:0]) == 1.0
