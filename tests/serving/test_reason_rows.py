"""Reasons as API dicts: officer texts when serving.explain is there, codes otherwise."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from serving.reason_rows import KEYS, code_rows, find_explainer, reason_rows
from serving.scoring import Scorer


@pytest.fixture(scope="module")
def scored(trained, records):
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    return scorer, scorer.score_records(copy.deepcopy(records[:30]))


def test_code_fallback_matches_the_batch_reasons(scored) -> None:
    scorer, batch = scored
    rows = reason_rows(scorer, batch, 3, explainer=None)
    assert len(rows) == 30
    for i, row in enumerate(rows):
        assert [r["code"] for r in row] == [r[0].code for r in batch.reasons[i]]
        for r, (reason, contribution, feature) in zip(row, batch.reasons[i], strict=True):
            assert set(r) == set(KEYS)
            assert r["text"] == reason.text
            assert r["contribution"] == pytest.approx(
                contribution, rel=1e-5
            )  # 6 significant digits
            value = batch.features[i, scorer.names.index(feature)]
            assert r["value"] == (None if np.isnan(value) else pytest.approx(value, rel=1e-5))


def test_explainer_rows_keep_the_same_codes(scored) -> None:
    explainer = find_explainer()
    if explainer is None:
        pytest.skip("serving.explain is not installed")
    scorer, batch = scored
    worded = reason_rows(scorer, batch, 3, explainer)
    codes = code_rows(scorer, batch, 3)
    assert [[r["code"] for r in row] for row in worded] == [
        [r["code"] for r in row] for row in codes
    ]


def test_a_failing_explainer_falls_back_to_codes_and_is_counted(scored) -> None:
    scorer, batch = scored
    fallbacks = []

    def broken(*args, **kwargs):
        raise KeyError("boom")

    rows = reason_rows(scorer, batch, 2, broken, lambda: fallbacks.append(1))
    assert fallbacks == [1]
    assert all(len(row) <= 2 for row in rows)
    assert rows == reason_rows(scorer, batch, 2, explainer=None)
