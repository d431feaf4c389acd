"""Label statistics of the profiles: prior strengths fitted per key (empirical Bayes),
kept through save/load and update; windowed counts and both rates against a tiny
reference implementation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline, default_blocks
from features.profiles import ProfileBlock, ProfileConfig
from features.timebase import period_start
from tests.features.conftest import Fitted, strengths_of
from tests.features.test_point_in_time import _flip

HIT = ("irregularity", "seizure")
PRIOR_RATE = 0.02
DECAY_DAYS = 365.0


def test_strengths_are_fitted_per_key_within_bounds_and_reported(fitted: Fitted) -> None:
    strengths = strengths_of(fitted.pipeline)
    assert {"importer", "declarant", "seller", "hs6", "hs6_origin", "office"} <= set(strengths)
    assert all(0.5 <= m <= 5000.0 for m in strengths.values())
    # Fitted, not one constant: parties and goods codes differ by more than a factor 5.
    assert max(strengths.values()) > 5 * min(strengths.values())
    report = fitted.pipeline.fitted_parameters()
    assert report["profiles.prior_strength.importer"] == strengths["importer"]
    assert len(report) == len(strengths)


def test_strengths_are_fitted_per_period_from_earlier_results(fitted: Fitted) -> None:
    """Period p's strengths come from the results known before p began: no row's features
    depend on its own or a later result through them (the point-in-time tests check the
    features themselves)."""
    d, c = fitted.declarations, fitted.controls
    profiles = next(b for b in fitted.pipeline.blocks if isinstance(b, ProfileBlock))
    table = profiles.strength_table_
    assert len(table) >= 3
    assert (table[0] == 20.0).all()  # nothing known before the history: the fallback
    assert list(table[-1]) == list(strengths_of(fitted.pipeline).values())
    lodged = c.merge(d[["declaration_id", "lodged_at"]], on="declaration_id").lodged_at
    known = np.maximum(c.controlled_at, lodged.to_numpy())
    start = pd.Timestamp(period_start(profiles.strength_first_period_ + 2, 30), unit="s", tz="UTC")
    flipped = _flip(c, c.control_id[(known >= start).to_numpy()])
    pipe = FeaturePipeline().fit(d, flipped, fitted.filings, fitted.items)
    refit = next(b for b in pipe.blocks if isinstance(b, ProfileBlock))
    np.testing.assert_array_equal(refit.strength_table_[:3], table[:3])
    assert (refit.strength_table_[3:] != table[3:]).any()


def test_strengths_survive_save_and_load(fitted: Fitted, tmp_path: Path) -> None:
    fitted.pipeline.save(tmp_path / "state")
    loaded = FeaturePipeline.load(tmp_path / "state")
    assert strengths_of(loaded) == strengths_of(fitted.pipeline)


def test_update_does_not_refit_the_strengths(fitted: Fitted) -> None:
    d, c = fitted.declarations, fitted.controls
    cut = d.lodged_at.quantile(0.4)
    pipe = FeaturePipeline().fit(d[d.lodged_at < cut], c[c.controlled_at < cut])
    before = strengths_of(pipe)
    pipe.update(d[d.lodged_at >= cut], c[c.controlled_at >= cut])
    assert strengths_of(pipe) == before
    refit = strengths_of(FeaturePipeline().fit(d, c))
    assert any(abs(refit[k] / before[k] - 1) > 0.05 for k in before)


def test_a_fixed_strength_overrides_the_fit(fitted: Fitted) -> None:
    d, c = fitted.declarations, fitted.controls
    every = FeaturePipeline(default_blocks(ProfileConfig(smoothing=20.0))).fit(d, c)
    assert set(strengths_of(every).values()) == {20.0}
    some = FeaturePipeline(default_blocks(ProfileConfig(smoothing={"importer": 7.0}))).fit(d, c)
    assert strengths_of(some)["importer"] == 7.0
    assert strengths_of(some)["hs6"] == strengths_of(fitted.pipeline)["hs6"]


def _reference(
    d: pd.DataFrame, c: pd.DataFrame, row: int, key: str, strength: float, window_days: float
) -> dict[str, float]:
    """Label statistics of ``key`` (a column of d whose parent is the global level) for
    row ``row``, straight from the frames."""
    merged = c.merge(d[["declaration_id", key, "lodged_at"]], on="declaration_id")
    known = np.maximum(merged.controlled_at, merged.lodged_at)
    t = d.lodged_at.iloc[row]
    hit = merged.outcome.isin(HIT).to_numpy(dtype=float)
    before = (known < t).to_numpy()
    mine = before & (merged[key] == d[key].iloc[row]).to_numpy()
    recent = mine & (known >= t - pd.Timedelta(days=window_days)).to_numpy()
    weight = np.exp(-((t - known).dt.total_seconds().to_numpy()) / (DECAY_DAYS * 86_400))
    global_all = (hit[before].sum() + PRIOR_RATE) / (before.sum() + 1)
    global_dec = ((weight * hit)[before].sum() + PRIOR_RATE) / (weight[before].sum() + 1)
    revenue = merged.revenue_recovered.fillna(0).to_numpy()
    return {
        "controls": float(recent.sum()),
        "hits": float(hit[recent].sum()),
        "log_revenue": float(np.log1p(revenue[recent].sum())),
        "hit_rate": float(
            ((weight * hit)[mine].sum() + strength * global_dec) / (weight[mine].sum() + strength)
        ),
        "hit_rate_all": float((hit[mine].sum() + strength * global_all) / (mine.sum() + strength)),
    }


@pytest.mark.parametrize("key", ["importer_id", "seller_id", "office"])
def test_label_statistics_match_a_reference(fitted: Fitted, key: str) -> None:
    d, c = fitted.declarations, fitted.controls
    strength = 13.0
    config = ProfileConfig(label_window_days=20, smoothing=strength)
    pipe = FeaturePipeline(default_blocks(config)).fit(d, c)
    names = list(pipe.get_feature_names_out())
    prefix = key.removesuffix("_id")
    rows = np.linspace(len(d) // 3, len(d) - 1, 15).astype(int)
    x = pipe.transform(d.iloc[rows])
    for k, row in enumerate(rows):
        expected = _reference(d, c, row, key, strength, 20)
        for stat, value in expected.items():
            got = x[k, names.index(f"{prefix}__{stat}")]
            assert got == pytest.approx(value, rel=1e-5, abs=1e-6), (row, stat)
    # The window is alive: some entity had results older than 20 days.
    full = [_reference(d, c, r, key, strength, 1e4)["controls"] for r in rows]
    assert any(f > x[k, names.index(f"{prefix}__controls")] for k, f in enumerate(full))
