"""Distinct partners over a window: a brute-force count, and folds equal to a refit with
short windows (so spells end, pairs come back, late rows restate their pair)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline, default_blocks
from features.profiles import ProfileConfig
from tests.features.conftest import Fitted
from tests.features.live import Batch, Feed
from tests.features.test_live_state import assert_same_features, fold


def short(days: int) -> list:
    return default_blocks(ProfileConfig(partner_window_days=days, windows_days=(7, 14)))


@pytest.mark.parametrize("days", [3, 10])
def test_partners_count_the_distinct_partners_of_the_window(fitted: Fitted, days: int) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    pipe = FeaturePipeline(short(days)).fit(d, c, f, i)
    names = list(pipe.spec_.names)
    rows = d.iloc[np.linspace(len(d) // 3, len(d) - 1, 300).astype(int)]
    x = pipe.transform(rows, f, i)
    window = pd.Timedelta(days=days)
    checks = (
        ("importer", "seller_id", "importer__partners_sellers"),
        ("declarant", "importer_id", "declarant__partners_importers"),
    )
    for owner, partner, name in checks:
        got = x[:, names.index(name)]
        for k, (_, row) in enumerate(rows.iterrows()):
            mine = d[(d[f"{owner}_id"] == row[f"{owner}_id"]) & d[partner].notna()]
            recent = mine[
                (mine.lodged_at >= row.lodged_at - window) & (mine.lodged_at < row.lodged_at)
            ]
            assert got[k] == recent[partner].nunique(), (owner, k)
    assert x[:, names.index("importer__partners_sellers")].max() > 1


@pytest.fixture(scope="module")
def feed(fitted: Fitted) -> Feed:
    return Feed.of(fitted.declarations, fitted.controls, fitted.filings, fitted.items, 0.6)


@pytest.fixture(scope="module")
def batches(feed: Feed) -> list[Batch]:
    sizes = np.random.default_rng(8).integers(50, 400, 30).tolist()
    return feed.batches(sizes, early_share=0.1, seed=8)


@pytest.mark.parametrize("order", ["lodging", "reversed", "shuffled"])
def test_folds_with_short_windows_equal_one_refit(
    feed: Feed, batches: list[Batch], order: str
) -> None:
    given = list(batches)
    if order == "reversed":
        given = given[::-1]
    elif order == "shuffled":
        given = [given[k] for k in np.random.default_rng(2).permutation(len(given))]
    pipe = fold(feed.fit(short(3)), given, "frames")
    assert_same_features(feed, pipe, feed.refit(given, short(3)))
