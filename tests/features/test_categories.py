"""Low-cardinality extra attributes reach the models as indicators of their values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.categories import column_name
from tests.features.conftest import Fitted
from tests.features.live import records_of


@pytest.fixture(scope="module")
def with_extras(fitted: Fitted) -> tuple[pd.DataFrame, FeaturePipeline]:
    """The world's declarations with a 4-value channel (one value rare, some missing)
    and a 60-value broker city."""
    d = fitted.declarations.copy()
    rng = np.random.default_rng(4)
    values, shares = ["green", "orange", "red", "blue/grey"], [0.6, 0.3, 0.0995, 0.0005]
    channel = rng.choice(values, len(d), p=shares)
    channel = np.where(rng.random(len(d)) < 0.05, None, channel)
    d["extra_cat__channel"] = pd.Series(channel, dtype=object)
    d["extra_cat__broker_city"] = [f"city{k}" for k in rng.integers(0, 60, len(d))]
    pipe = FeaturePipeline().fit(d, fitted.controls, fitted.filings, fitted.items)
    return d, pipe


def test_frequent_values_of_small_attributes_become_indicators(
    with_extras: tuple[pd.DataFrame, FeaturePipeline], fitted: Fitted
) -> None:
    d, pipe = with_extras
    names = list(pipe.spec_.names)
    mine = [n for n in names if "__is_" in n]
    # blue/grey is seen fewer than 20 times: no column; the broker city has 60 values.
    assert mine == [
        "extra_cat__channel__is_green",
        "extra_cat__channel__is_orange",
        "extra_cat__channel__is_red",
    ]
    assert pipe.spec_.groups["categories"] == tuple(mine)
    assert "categories:extra_cat__broker_city" in pipe.spec_.dropped
    assert "extra_cat__broker_city__hit_rate" in names  # still profiled
    probe = d.iloc[:3000]
    x = pd.DataFrame(pipe.transform(probe, fitted.filings, fitted.items), columns=names)
    for value in ("green", "orange", "red"):
        expected = (probe["extra_cat__channel"] == value).to_numpy()
        np.testing.assert_array_equal(x[f"extra_cat__channel__is_{value}"], expected)
    other = probe["extra_cat__channel"].isna() | (probe["extra_cat__channel"] == "blue/grey")
    assert (x.loc[other.to_numpy(), mine].to_numpy() == 0).all()
    unseen = probe.iloc[:5].assign(extra_cat__channel="purple")
    assert (
        pipe.transform(unseen, fitted.filings, fitted.items)[:, [names.index(n) for n in mine]] == 0
    ).all()


def test_indicators_survive_save_load_and_the_records_path(
    with_extras: tuple[pd.DataFrame, FeaturePipeline], fitted: Fitted, tmp_path: Path
) -> None:
    d, pipe = with_extras
    pipe.save(tmp_path / "state")
    loaded = FeaturePipeline.load(tmp_path / "state")
    assert loaded.spec_.hash == pipe.spec_.hash
    rows = d.iloc[np.linspace(0, len(d) - 1, 40).astype(int)]
    direct = pipe.transform(rows, fitted.filings, fitted.items)
    np.testing.assert_array_equal(loaded.transform(rows, fitted.filings, fitted.items), direct)
    records = records_of(rows, fitted.filings, fitted.items)
    np.testing.assert_allclose(loaded.transform_records(records), direct, rtol=1e-6, atol=1e-6)


def test_column_names_are_plain_and_distinct() -> None:
    taken: set[str] = set()
    first = column_name("extra_cat__lane", "a/b", taken)
    taken.add(first)
    second = column_name("extra_cat__lane", "a-b", taken)
    assert (first, second) == ("extra_cat__lane__is_a_b", "extra_cat__lane__is_a_b_2")
