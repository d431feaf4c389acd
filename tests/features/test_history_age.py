"""No history-age proxies: activity and label counts look back a fixed window, the age is
capped and flagged when the entity may predate the history, so a row's features do not
grow with the length of the history behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.inputs import inputs_from_frames
from features.keys import key_values
from features.profiles import ProfileBlock, ProfileConfig
from tests.features.conftest import Fitted

START = pd.Timestamp("2025-01-01", tz="UTC")


def _frame(rows: list[tuple[float, str | None, str | None, str | None]]) -> pd.DataFrame:
    """Declarations (day, importer, seller, declarant) in time order."""
    days, importers, sellers, declarants = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "declaration_id": [f"D{k:05d}" for k in range(len(rows))],
            "lodged_at": [START + pd.Timedelta(days=x) for x in days],
            "importer_id": list(importers),
            "seller_id": list(sellers),
            "declarant_id": list(declarants),
        }
    )


def _features(pipe: FeaturePipeline, frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(pipe.transform(frame), columns=pipe.get_feature_names_out())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_partners_in_the_window_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    days = np.sort(rng.uniform(0, 90, n))
    sellers = np.where(rng.random(n) < 0.1, None, rng.choice([f"S{k}" for k in range(9)], n))
    rows = [
        (float(t), f"I{rng.integers(4)}", s, f"B{rng.integers(5)}")
        for t, s in zip(days, sellers, strict=True)
    ]
    history = _frame(rows)
    config = ProfileConfig(windows_days=(3, 7, 10), smoothing=20.0)
    pipe = FeaturePipeline([ProfileBlock(config)]).fit(history)
    probe = _frame(
        [(float(t), f"I{k % 4}", None, f"B{k % 5}") for k, t in enumerate(np.linspace(1, 95, 60))]
    )
    x = _features(pipe, probe)
    for k in range(len(probe)):
        t, importer = probe.lodged_at.iloc[k], probe.importer_id.iloc[k]
        recent = history[(history.lodged_at < t) & (history.lodged_at >= t - pd.Timedelta(days=10))]
        mine = recent[recent.importer_id == importer]
        assert x["importer__partners_sellers"].iloc[k] == mine.seller_id.dropna().nunique()
        assert x["importer__partners_declarants"].iloc[k] == mine.declarant_id.nunique()
        broker = recent[recent.declarant_id == probe.declarant_id.iloc[k]]
        assert x["declarant__partners_importers"].iloc[k] == broker.importer_id.nunique()


def test_age_is_capped_and_flagged_when_the_entity_may_predate_the_history() -> None:
    rows = [(float(day), "STEADY", None, None) for day in range(0, 120)]
    rows += [(10 + k / 4, "BURST", None, None) for k in range(12)]  # 4 a day from day 10
    rows += [(3 + k / 4, "MONDAY", None, None) for k in range(200)]  # busy from day 3
    rows += [(2.0, "RARE", None, None), (70.0, "RARE", None, None)]
    rows += [(60.0, "NEW", None, None), (61.0, "NEW", None, None)]
    history = _frame(sorted(rows))
    config = ProfileConfig(smoothing=20.0, age_cap_days=90, history_grace_days=30)
    pipe = FeaturePipeline([ProfileBlock(config)]).fit(history)
    probe = _frame(
        [
            (20.0, "STEADY", None, None),
            (10.5, "BURST", None, None),  # 2 declarations since day 10: could be older
            (12.0, "BURST", None, None),  # 8: ten silent days at that rate, new
            (40.0, "MONDAY", None, None),  # silent 3 days at the start: a weekend
            (71.0, "RARE", None, None),
            (62.0, "NEW", None, None),
            (62.0, "UNSEEN", None, None),
            (300.0, "STEADY", None, None),
        ]
    )
    x = _features(pipe, probe)
    # Seen from the start: age unknown, read as the cap, whatever the row's time.
    assert x["importer__seen_before_history"].tolist() == [1, 1, 0, 1, 1, 0, 0, 1]
    assert x["importer__days_since_first"].tolist() == pytest.approx(
        [90, 90, 2.0, 90, 90, 2.0, -1, 90]
    )


def _first_seen(d: pd.DataFrame, key: str) -> pd.Series:
    """When each row's ``key`` entity first appears in ``d`` (NaT when missing)."""
    values = pd.Series(key_values(inputs_from_frames(d), key), index=d.index)
    return d.lodged_at.groupby(values).transform("min").where(values.notna())


def test_a_row_does_not_see_the_length_of_the_history_behind_it(fitted: Fitted) -> None:
    """States fitted on the whole history and on its last 50 days give a row more than a
    window past the cut the same label counts, and the same activity features for the
    entities first seen inside both histories or seen from the start of both (age read
    as the cap). The old cumulative counts and uncapped ages grew with the history."""
    d, c = fitted.declarations, fitted.controls
    cut = d.lodged_at.min() + pd.Timedelta(days=30)
    lodged = c.merge(d[["declaration_id", "lodged_at"]], on="declaration_id").lodged_at
    c = c[~((lodged < cut) & (c.controlled_at >= cut)).to_numpy()]  # no result straddles the cut
    config = ProfileConfig(
        windows_days=(7, 14, 28), label_window_days=28, age_cap_days=28, smoothing=20.0
    )
    long = FeaturePipeline([ProfileBlock(config)]).fit(d, c)
    short = FeaturePipeline([ProfileBlock(config)]).fit(d[d.lodged_at >= cut], c)
    later = (d.lodged_at > cut + pd.Timedelta(days=29)).to_numpy()
    probe = d[later]
    a, b = _features(long, probe), _features(short, probe)
    profiles = next(p for p in long.blocks if isinstance(p, ProfileBlock))
    inside, from_start = 0, 0
    for key in profiles.keys_:
        counts = [f"{key.name}__{s}" for s in ("controls", "hits", "log_revenue")]
        pd.testing.assert_frame_equal(a[counts], b[counts])
        if not key.activity:
            continue
        first = _first_seen(d, key.name)[later]
        new = (first.isna() | (first > cut + pd.Timedelta(days=30))).to_numpy()
        flag = f"{key.name}__seen_before_history"
        old = ((a[flag] == 1) & (b[flag] == 1)).to_numpy()
        cols = [f"{key.name}__{s}" for s in ("n7d", "n14d", "n28d", "days_since_first")]
        cols += [flag, f"{key.name}__log_value_365d"]
        cols += [f"{key.name}__partners_{label}" for label, _ in key.partners]
        pd.testing.assert_frame_equal(a.loc[new | old, cols], b.loc[new | old, cols])
        inside += int((new & first.notna().to_numpy()).sum())
        from_start += int(old.sum())
    assert inside > 500
    assert from_start > len(probe)
