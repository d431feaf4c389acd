"""Feature groups chosen on validation: backward elimination, and models that ignore the
dropped columns exactly."""

from __future__ import annotations

import numpy as np
import pytest

from models.lgbm import TreeConfig, mask_columns, train_trees
from training.groups import (
    Measured,
    beyond_noise,
    bootstrap_rows,
    keep_mask,
    measure,
    model_groups,
    select_groups,
)

NAMES = ["a1", "a2", "b1", "c1", "c2", "d1"]
GROUPS = {"a": ("a1", "a2"), "b": ("b1",), "c": ("c1", "c2"), "d": ("d1",)}


def _scorer(table: dict[frozenset[str], tuple[float, float]], calls: list[frozenset[str]]):
    """score(keep) from a table keyed by the set of dropped groups (default: 0.5, 0.4)."""

    def score(keep: np.ndarray) -> tuple[float, float]:
        dropped = frozenset(g for g, cols in GROUPS.items() if not keep[NAMES.index(cols[0])])
        calls.append(dropped)
        return table.get(dropped, (0.5, 0.4))

    return score


def test_backward_elimination_drops_what_does_not_help_best_first() -> None:
    table = {
        frozenset(): (0.60, 0.50),
        frozenset("a"): (0.50, 0.45),  # a helps
        frozenset("b"): (0.62, 0.50),  # b hurts: dropping it is best
        frozenset("c"): (0.60, 0.50),  # c is noise
        frozenset("d"): (0.65, 0.48),  # d helps @10 %: kept
        frozenset("bc"): (0.62, 0.51),
        frozenset("ab"): (0.40, 0.40),
        frozenset("bd"): (0.60, 0.45),
        frozenset("abc"): (0.30, 0.30),
        frozenset("bcd"): (0.55, 0.50),
    }
    calls: list[frozenset[str]] = []
    s = select_groups(NAMES, GROUPS, _scorer(table, calls))
    assert s.dropped == ("b", "c")
    assert s.kept == ("a", "d")
    assert s.keep.tolist() == [True, True, False, False, False, True]
    assert s.full == (0.60, 0.50)
    assert s.final == (0.62, 0.51)
    assert s.effects["b"] == pytest.approx((0.02, 0.0))
    assert s.effects["a"] == pytest.approx((-0.10, -0.05))
    assert len(calls) == len(set(calls))  # each subset trained once
    m = s.metrics()
    assert m["group_effect_precision_at_5_a"] == pytest.approx(-0.10)
    assert m["feature_columns_used"] == 3


def test_selection_off_keeps_every_group_and_one_group_always_stays() -> None:
    calls: list[frozenset[str]] = []
    off = select_groups(NAMES, GROUPS, _scorer({}, calls), enabled=False)
    assert off.kept == tuple(GROUPS)
    assert off.dropped == ()
    assert off.keep.all()
    assert calls == [frozenset()]
    flat = select_groups(NAMES, GROUPS, lambda keep: (0.5, 0.5))  # nothing ever matters
    assert flat.kept == tuple(GROUPS)  # a tie keeps the group
    assert flat.dropped == ()
    alone = select_groups(NAMES, GROUPS, lambda keep: (1.0 - keep.mean(), 1.0 - keep.mean()))
    assert len(alone.kept) == 1  # every removal helps: one group still stays


def test_a_removal_within_the_noise_keeps_the_group() -> None:
    """One more hit in the top 5 % of a small validation window is within its noise: the
    group stays; a removal that finds many more hits on the same rows is dropped."""
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.05).astype(float)
    full = rng.random(400) + y * rng.normal(1.0, 1.0, 400)  # some signal
    one_more = full.copy()
    order = np.argsort(-full)
    first_miss = next(i for i in order[20:] if y[i] == 1)
    one_more[first_miss] = full.max() + 1  # one more hit in the top 20 rows
    much_better = full + 3 * y
    resamples = bootstrap_rows(len(y))
    current = measure(full, y, resamples)
    slightly = measure(one_more, y, resamples)
    clearly = measure(much_better, y, resamples)
    assert slightly.score[0] > current.score[0]  # higher on the rows themselves
    assert not beyond_noise(slightly, current, 0.9)
    assert beyond_noise(clearly, current, 0.9)
    assert not beyond_noise(current, current, 0.0)  # a tie never drops
    table = {frozenset(): current, frozenset("a"): slightly, frozenset("b"): clearly}

    def score(keep: np.ndarray) -> Measured:
        dropped = frozenset(g for g, cols in GROUPS.items() if not keep[NAMES.index(cols[0])])
        return table.get(dropped, Measured((0.0, 0.0), np.zeros((len(resamples), 2))))

    s = select_groups(NAMES, GROUPS, score)
    assert s.dropped == ("b",)


def test_profiles_split_into_party_and_goods_keys() -> None:
    spec = {
        "profiles": ("importer__n30d", "importer_seller__hits", "hs6__hit_rate", "route__hits"),
        "aeo": ("importer_aeo",),
        "empty": (),
    }
    groups = model_groups(spec)
    assert groups == {
        "profiles_party": ("importer__n30d", "importer_seller__hits"),
        "profiles_goods": ("hs6__hit_rate", "route__hits"),
        "aeo": ("importer_aeo",),
    }
    names = [n for g in groups.values() for n in g]
    assert keep_mask(names, groups, {"profiles_goods"}).tolist() == [True, True, False, False, True]


def test_trees_on_masked_columns_are_the_trees_on_the_kept_columns() -> None:
    """Blanked columns: same predictions as training on the kept columns alone, whatever
    the dropped columns hold when scoring; the booster keeps the full width."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 3] + rng.normal(size=4000) > 1).astype(float)
    xv = rng.normal(size=(1000, 6)).astype(np.float32)
    yv = (xv[:, 0] + xv[:, 3] + rng.normal(size=1000) > 1).astype(float)
    keep = np.array([True, True, True, False, True, False])
    config = TreeConfig(max_rounds=60, threads=1)
    w = np.ones(len(y))
    masked, _ = train_trees(x, y, w, xv, yv, [f"f{j}" for j in range(6)], config, keep)
    subset, _ = train_trees(
        x[:, keep], y, w, xv[:, keep], yv, [f"f{j}" for j in np.flatnonzero(keep)], config
    )
    assert masked.num_feature() == 6
    assert masked.feature_importance("split")[~keep].sum() == 0
    noisy = xv.copy()
    noisy[:, ~keep] = rng.normal(0, 100, size=(1000, 2))
    np.testing.assert_array_equal(masked.predict(xv), subset.predict(xv[:, keep]))
    np.testing.assert_array_equal(masked.predict(noisy), masked.predict(xv))
    assert mask_columns(x, np.ones(6, bool)) is x
