"""Smoothing strengths by empirical Bayes, windowed control counts, capped ages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline, default_blocks
from features.profiles import ProfileBlock, ProfileConfig, eb_strength
from features.timebase import to_seconds
from tests.features.conftest import Fitted

BOUNDS = (1.0, 1000.0)


def beta_binomial(m: float, p: float, entities: int, per: int, seed: int) -> tuple[np.ndarray, ...]:
    """``per`` results of each of ``entities`` entities whose rates are Beta(m p, m (1 - p))."""
    rng = np.random.default_rng(seed)
    rate = rng.beta(m * p, m * (1 - p), entities)
    entity = np.repeat(np.arange(entities), per)
    hit = (rng.random(entity.size) < rate[entity]).astype(np.float64)
    return entity, hit, np.full(entity.size, p)


@pytest.mark.parametrize("m", [3.0, 30.0, 300.0])
def test_the_estimate_recovers_the_strength_that_made_the_data(m: float) -> None:
    entity, hit, p = beta_binomial(m, 0.1, 4000, 20, seed=int(m))
    estimate = eb_strength(entity, hit, p, BOUNDS)
    assert m / 1.6 < estimate < m * 1.6, estimate


def test_no_spread_beyond_noise_trusts_the_parent_and_missing_keys_are_ignored() -> None:
    rng = np.random.default_rng(0)
    entity = np.repeat(np.arange(500), 10)
    hit = (rng.random(entity.size) < 0.05).astype(np.float64)
    assert eb_strength(entity, hit, np.full(entity.size, 0.05), BOUNDS) >= 300
    # Every entity either always or never hit: as spread as single results can be.
    always = np.repeat(np.arange(100) % 2, 10).astype(np.float64)
    assert eb_strength(entity[:1000], always, np.full(1000, 0.5), BOUNDS) == 1.0
    assert eb_strength(np.full(5, -1), np.ones(5), np.full(5, 0.5), BOUNDS) == 1000.0


def test_strengths_read_only_results_known_before_the_cut(fitted: Fitted) -> None:
    """Flipping every result known after the cut leaves the estimate alone; flipping
    those before moves it."""
    d, c = fitted.declarations, fitted.controls
    cut = d.lodged_at.quantile(0.6)
    before = int(to_seconds(pd.Series([cut]))[0])
    block = fitted.pipeline.block("profiles")
    assert isinstance(block, ProfileBlock)
    base = block.estimated_strengths(before)

    def flipped(mask: pd.Series) -> dict[str, float]:
        changed = c.copy()
        hit = changed.outcome.isin(["irregularity", "seizure"])
        changed.loc[mask & hit, "outcome"] = "no_irregularity"
        changed.loc[mask & ~hit, "outcome"] = "irregularity"
        pipe = FeaturePipeline().fit(d, changed, fitted.filings, fitted.items)
        return pipe.block("profiles").estimated_strengths(before)  # type: ignore[attr-defined]

    assert flipped(c.controlled_at >= cut + pd.Timedelta(days=1)) == base
    assert flipped(c.controlled_at < cut - pd.Timedelta(days=1)) != base
    assert base["importer"] < base["hs2"]  # parties spread more than chapters (synth)


def test_given_strengths_change_the_rates_and_travel_with_the_state(
    fitted: Fitted, tmp_path
) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    sharp = ProfileConfig(strengths=(("importer", 1.0),))
    pipe = FeaturePipeline(default_blocks(sharp)).fit(d, c, f, i)
    names = list(pipe.spec_.names)
    probe = d.iloc[-2000:]
    col = names.index("importer__hit_rate")
    default_rate = fitted.pipeline.transform(probe, f, i)[:, col]
    sharp_rate = pipe.transform(probe, f, i)[:, col]
    assert sharp_rate.std() > 1.5 * default_rate.std()
    pipe.save(tmp_path / "state")
    loaded = FeaturePipeline.load(tmp_path / "state")
    assert loaded.block("profiles").config.strengths == (("importer", 1.0),)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(loaded.transform(probe, f, i), pipe.transform(probe, f, i))


def _one_importer(
    fitted: Fitted, days: list[float], hits: list[bool]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A real row of the world repeated for one new importer at the given days (from
    2024-01-01), each controlled an hour after lodging with the given outcome."""
    start = pd.Timestamp("2024-01-01", tz="UTC")
    n = len(days)
    d = fitted.declarations.iloc[[0] * n].reset_index(drop=True)
    d["declaration_id"] = [f"D{k}" for k in range(n)]
    d["lodged_at"] = [start + pd.Timedelta(days=x) for x in days]
    d["importer_id"] = "IMP1"
    d["ens_id"] = None
    c = fitted.controls.iloc[[0] * n].reset_index(drop=True)
    c["control_id"] = [f"C{k}" for k in range(n)]
    c["declaration_id"] = d["declaration_id"]
    c["controlled_at"] = d["lodged_at"] + pd.Timedelta(hours=1)
    c["outcome"] = ["irregularity" if h else "no_irregularity" for h in hits]
    c["revenue_recovered"] = [100.0 if h else 0.0 for h in hits]
    return d, c


def test_counts_are_windowed_and_ages_capped(fitted: Fitted) -> None:
    """A hit 410 days back counts in the decayed rate but not in the 365-day counts; age
    stops at 365 days; the flag marks the importer seen at the history's start."""
    d, c = _one_importer(fitted, [0.0, 10.0, 300.0, 410.0], [True, False, False, False])
    pipe = FeaturePipeline().fit(d, c)
    x = pd.DataFrame(pipe.transform(d), columns=pipe.get_feature_names_out())
    assert x["importer__controls"].tolist() == [0, 1, 2, 1]  # D0, D1 out by day 410
    assert x["importer__hits"].tolist() == [0, 1, 1, 0]
    assert x["importer__hit_rate"][3] > x["importer__hit_rate_window"][3]
    assert x["importer__days_since_first"].tolist() == [-1, 10, 300, 365]
    assert x["importer__seen_before_history"].tolist() == [0, 1, 1, 1]
    newcomer = d.iloc[[3]].assign(importer_id="IMP2", declaration_id="NEW")
    late = pd.DataFrame(pipe.transform(newcomer), columns=pipe.get_feature_names_out())
    assert late["importer__seen_before_history"][0] == 0
    assert late["importer__days_since_first"][0] == -1
