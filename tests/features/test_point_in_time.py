"""Leakage guards: a row's features use only facts from strictly before its time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from tests.features.conftest import Fitted


def _flip(controls: pd.DataFrame, control_ids: pd.Series) -> pd.DataFrame:
    out = controls.copy()
    rows = out.control_id.isin(control_ids)
    hit = out.loc[rows, "outcome"] != "no_irregularity"
    out.loc[rows, "outcome"] = np.where(hit, "no_irregularity", "irregularity")
    out.loc[rows, "revenue_recovered"] = np.where(hit, 0.0, 5000.0)
    return out


def _row_features(f: Fitted, controls: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    pipe = FeaturePipeline().fit(f.declarations, controls, f.filings, f.items)
    return pipe.transform(f.declarations.iloc[rows], f.filings, f.items)


@pytest.fixture(scope="module")
def probe(fitted: Fitted) -> tuple[int, pd.Series]:
    """A controlled row late in the period, whose importer has earlier known controls."""
    d, c = fitted.declarations, fitted.controls
    merged = c.merge(d[["declaration_id", "importer_id", "lodged_at"]], on="declaration_id")
    counts = merged.importer_id.value_counts()
    busy = merged[merged.importer_id.isin(counts[counts >= 6].index)]
    late = busy[busy.lodged_at > d.lodged_at.quantile(0.7)].iloc[0]
    row = int(np.flatnonzero(d.declaration_id == late.declaration_id)[0])
    return row, late


def test_own_and_later_labels_do_not_move_a_row(fitted: Fitted, probe) -> None:
    row, late = probe
    d, c = fitted.declarations, fitted.controls
    t = d.lodged_at.iloc[row]
    own_and_later = c[c.declaration_id.isin(d.declaration_id[d.lodged_at >= t])].control_id
    assert late.control_id in set(own_and_later)
    before = fitted.features.iloc[[row]].to_numpy()
    after = _row_features(fitted, _flip(c, own_and_later), np.array([row]))
    np.testing.assert_array_equal(before, after)


def test_an_earlier_known_label_moves_a_row(fitted: Fitted, probe) -> None:
    row, late = probe
    d, c = fitted.declarations, fitted.controls
    t = d.lodged_at.iloc[row]
    merged = c.merge(d[["declaration_id", "importer_id"]], on="declaration_id")
    earlier = merged[(merged.importer_id == late.importer_id) & (merged.controlled_at < t)]
    assert len(earlier) > 0
    after = _row_features(fitted, _flip(c, earlier.control_id.iloc[:1]), np.array([row]))
    changed = fitted.features.columns[(after[0] != fitted.features.iloc[row].to_numpy())]
    assert "importer__hits" in changed
    assert "importer__hit_rate" in changed


def test_a_result_dated_before_its_own_declaration_is_not_seen_by_it(fitted: Fitted, probe) -> None:
    """A clerical or clock error dates the row's own result before its lodging: the result
    counts from the lodging on, so the row still does not see its own label."""
    row, late = probe
    c = fitted.controls.copy()
    c.loc[c.control_id == late.control_id, "controlled_at"] = late.lodged_at - pd.Timedelta(hours=1)
    after = _row_features(fitted, c, np.array([row]))
    np.testing.assert_array_equal(fitted.features.iloc[[row]].to_numpy(), after)


def test_a_result_known_only_after_the_row_is_not_used(fitted: Fitted) -> None:
    """A post-release audit of an earlier declaration, recorded after the row: invisible."""
    d, c = fitted.declarations, fitted.controls
    late_results = c[c.control_type == "post_release"]
    merged = late_results.merge(
        d[["declaration_id", "importer_id", "lodged_at"]], on="declaration_id"
    )
    for _, audit in merged.iterrows():
        later = d[
            (d.importer_id == audit.importer_id)
            & (d.lodged_at > audit.lodged_at)
            & (d.lodged_at < audit.controlled_at)
        ]
        if len(later):
            break
    else:
        pytest.skip("no declaration between an audit's lodgement and its result")
    row = int(np.flatnonzero(d.declaration_id == later.declaration_id.iloc[0])[0])
    after = _row_features(fitted, _flip(c, pd.Series([audit.control_id])), np.array([row]))
    np.testing.assert_array_equal(fitted.features.iloc[[row]].to_numpy(), after)


def test_training_features_equal_serving_from_state_before_the_row(fitted: Fitted) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    rng = np.random.default_rng(0)
    rows = rng.choice(np.flatnonzero(d.lodged_at > d.lodged_at.quantile(0.5)), 3, replace=False)
    for row in rows:
        t = d.lodged_at.iloc[row]
        past_f = f[f.filed_at < t]
        past_i = i.merge(past_f[["filing_id", "version"]], on=["filing_id", "version"])
        state = FeaturePipeline().fit(d[d.lodged_at < t], c[c.controlled_at < t], past_f, past_i)
        served = state.transform(d.iloc[[row]], f, i)
        np.testing.assert_allclose(
            served[0],
            fitted.features.iloc[row].to_numpy(),
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"row {row}",
        )


def test_one_row_at_a_time_equals_the_batch(fitted: Fitted) -> None:
    d = fitted.declarations
    rows = np.linspace(0, len(d) - 1, 25).astype(int)
    batch = fitted.pipeline.transform(d.iloc[rows], fitted.filings, fitted.items)
    for k, row in enumerate(rows):
        single = fitted.pipeline.transform(d.iloc[[row]], fitted.filings, fitted.items)
        np.testing.assert_array_equal(single[0], batch[k])
    np.testing.assert_array_equal(batch, fitted.features.iloc[rows].to_numpy())
