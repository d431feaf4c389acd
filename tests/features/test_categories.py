"""Extra attributes with few distinct values reach the models as stable numeric codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from tests.features.conftest import Fitted


@pytest.fixture(scope="module")
def extra(fitted: Fitted) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first 6,000 declarations with a 3-value channel (some missing) and a
    100-value licence number, and their controls."""
    d = fitted.declarations.iloc[:6000].copy()
    k = np.arange(len(d))
    d["extra_cat__channel"] = np.where(k % 11 == 0, None, np.array(["C", "A", "B"])[k % 3])
    d["extra_cat__licence"] = [f"L{j % 100:03d}" for j in k]
    c = fitted.controls[fitted.controls.declaration_id.isin(d.declaration_id)]
    return d, c


def test_few_valued_attributes_get_sorted_codes(extra) -> None:
    d, c = extra
    pipe = FeaturePipeline().fit(d, c)
    names = list(pipe.get_feature_names_out())
    assert "extra_cat__channel__code" in names
    assert "extra_cat__licence__code" not in names  # 100 values: a profile key only
    probe = d.iloc[:4].copy()
    probe["extra_cat__channel"] = ["A", "C", None, "UNSEEN"]
    x = pipe.transform(probe)[:, names.index("extra_cat__channel__code")]
    assert x.tolist() == [0, 2, -1, -1]


def test_few_valued_attributes_keep_their_hit_rate_but_no_activity_profile(extra) -> None:
    d, c = extra
    names = set(FeaturePipeline().fit(d, c).get_feature_names_out())
    assert {"extra_cat__channel__hit_rate", "extra_cat__channel__controls"} <= names
    assert "extra_cat__channel__n30d" not in names
    assert {"extra_cat__licence__n30d", "extra_cat__licence__hit_rate"} <= names


def test_codes_are_fitted_not_grown_and_survive_save_and_load(extra, tmp_path: Path) -> None:
    d, c = extra
    half = len(d) // 2
    pipe = FeaturePipeline().fit(d.iloc[:half], c)
    later = d.iloc[half:].copy()
    later["extra_cat__channel"] = "D"
    pipe.update(later, c)
    names = list(pipe.get_feature_names_out())
    column = names.index("extra_cat__channel__code")
    assert (pipe.transform(later.iloc[:50])[:, column] == -1).all()
    pipe.save(tmp_path / "state")
    loaded = FeaturePipeline.load(tmp_path / "state")
    np.testing.assert_array_equal(loaded.transform(d.iloc[:200]), pipe.transform(d.iloc[:200]))
