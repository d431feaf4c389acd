"""Leakage and consistency: a row sees only facts from before its snapshot's start;
a state fitted on the past serves a row like the full state; update equals a refit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.inputs import inputs_from_frames
from features.timebase import DAY, period_of, period_start, to_seconds
from graph import GraphBlock
from graph import block as block_module
from tests.graph.conftest import Case, events, fit


def _flip(controls: pd.DataFrame, control_ids: pd.Series) -> pd.DataFrame:
    out = controls.copy()
    rows = out.control_id.isin(control_ids)
    hit = out.loc[rows, "outcome"] != "no_irregularity"
    out.loc[rows, "outcome"] = np.where(hit, "no_irregularity", "irregularity")
    return out


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the snapshots the block computes from now on."""
    calls: list[int] = []
    original = block_module.snapshot_features

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(block_module, "snapshot_features", counted)
    return calls


@pytest.fixture(scope="module")
def probe(case: Case) -> pd.Series:
    """An early no-hit control whose declarant later serves other importers."""
    d, c = case.declarations, case.controls
    parties = d[["declaration_id", "importer_id", "declarant_id", "lodged_at"]]
    m = c.merge(parties, on="declaration_id")
    early = m[(m.outcome == "no_irregularity") & (m.controlled_at < d.lodged_at.quantile(0.3))]
    for _, row in early.iterrows():
        later = d[
            (d.declarant_id == row.declarant_id)
            & (d.importer_id != row.importer_id)
            & (d.lodged_at > row.controlled_at + pd.Timedelta(days=31))
        ]
        if len(later) >= 5:
            return row
    raise AssertionError("no suitable control in the test world")


def test_a_later_result_leaves_earlier_rows_unchanged(case: Case) -> None:
    d, c = case.declarations, case.controls
    late = c[c.controlled_at > d.lodged_at.quantile(0.6)].iloc[:25]
    flipped = fit(d, _flip(c, late.control_id), case.filings, case.items)
    x = flipped.transform(case.inputs)
    before = (d.lodged_at < late.controlled_at.min()).to_numpy()
    np.testing.assert_array_equal(x[before], case.features[before])
    assert not np.array_equal(x[~before], case.features[~before])  # the flip does matter


def test_an_earlier_known_hit_moves_the_neighbours(case: Case, probe: pd.Series) -> None:
    d, c = case.declarations, case.controls
    flipped = fit(d, _flip(c, pd.Series([probe.control_id])), case.filings, case.items)
    x = flipped.transform(case.inputs)
    names = flipped.feature_names()
    after = (d.lodged_at > probe.controlled_at + pd.Timedelta(days=31)).to_numpy()
    neighbours = after & (d.declarant_id == probe.declarant_id).to_numpy()
    neighbours &= (d.importer_id != probe.importer_id).to_numpy()
    hop = names.index("graph__importer__hit_rate_1hop")
    assert (x[neighbours, hop] > case.features[neighbours, hop]).all()
    own = after & (d.importer_id == probe.importer_id).to_numpy()
    if own.any():
        assert (x[own, names.index("graph__importer__offender_distance")] == 0).all()
    untouched = (d.lodged_at < probe.controlled_at).to_numpy()
    np.testing.assert_array_equal(x[untouched], case.features[untouched])


@pytest.mark.parametrize("where", ["mid_period", "period_start"])
def test_state_fitted_before_t_serves_rows_at_t_like_the_full_state(case: Case, where: str) -> None:
    d, c, f, i = case.declarations, case.controls, case.filings, case.items
    days = case.block.config.period_days
    times = to_seconds(d.lodged_at)
    if where == "mid_period":
        t = int(times[int(len(d) * 0.7)])
    else:
        t = int(period_start(period_of(int(times[int(len(d) * 0.7)]), days), days))
    past_d = d[times < t]
    past_c = c[(to_seconds(c.controlled_at) < t) & c.declaration_id.isin(past_d.declaration_id)]
    past_f = f[to_seconds(f.filed_at) < t]
    past_i = i.merge(past_f[["filing_id", "version"]], on=["filing_id", "version"])
    state = fit(past_d, past_c, past_f, past_i)
    end = min(t + 2 * DAY, int(period_start(period_of(t, days) + 1, days)))
    rows = np.flatnonzero((times >= t) & (times < end))
    assert len(rows) > 50
    np.testing.assert_array_equal(state.transform(case.inputs.take(rows)), case.features[rows])


def test_update_equals_a_full_fit_and_recomputes_only_later_snapshots(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    d, c, f, i = case.declarations, case.controls, case.filings, case.items
    times, known = to_seconds(d.lodged_at), to_seconds(c.controlled_at)
    start = int(times.min())
    cuts = [start + 25 * DAY, start + 47 * DAY]
    block = GraphBlock()
    fitted_rows = np.zeros(len(d), dtype=bool)
    fitted_controls = np.zeros(len(c), dtype=bool)
    registry = pd.Series([], dtype=object)
    for k, cut in enumerate([*cuts, None]):
        rows = ~fitted_rows & (times < cut if cut is not None else True)
        new_rows = d[rows]
        registry = pd.concat([registry, new_rows.declaration_id.astype(object)], ignore_index=True)
        ready = ~fitted_controls & c.declaration_id.isin(registry).to_numpy()
        if cut is not None:
            ready &= known < cut
        inputs = inputs_from_frames(new_rows, f, i)
        ev = events(c[ready], registry)
        if k == 0:
            block.fit(inputs, ev, None)
        else:
            calls = _count_calls(monkeypatch)
            block.update(inputs, ev, None)
            assert calls == []  # appending only: snapshots are computed when needed
            block.refresh()
            monkeypatch.undo()
            earliest = min(times[rows].min(), known[ready].min())
            kept = period_of(earliest, block.config.period_days) + 1 - block.tables_.first_period
            assert len(calls) == block.tables_.n_snapshots - max(0, kept)
            assert len(calls) < block.tables_.n_snapshots
        fitted_rows |= rows
        fitted_controls |= ready
    assert fitted_rows.all()
    assert fitted_controls.all()
    chunk = np.searchsorted(cuts, times, side="right")
    order = np.argsort(chunk, kind="stable")  # the rows in the order they were fitted
    np.testing.assert_array_equal(block.transform(case.inputs), case.features)
    full = fit(d.iloc[order], c, f, i)
    np.testing.assert_array_equal(full.transform(case.inputs), case.features)


def test_update_with_late_results_only(case: Case) -> None:
    """Audits known after the last declaration: no new rows, the last snapshots move."""
    d, c, f, i = case.declarations, case.controls, case.filings, case.items
    cut = d.lodged_at.max() + pd.Timedelta(days=1)
    block = fit(d, c[c.controlled_at < cut], f, i)
    empty = inputs_from_frames(d.iloc[:0], f, i)
    block.update(empty, events(c[c.controlled_at >= cut], d.declaration_id), None)
    np.testing.assert_array_equal(block.transform(case.inputs), case.features)
    later = case.inputs.take(np.arange(100))
    later.time = later.time + 200 * DAY
    np.testing.assert_array_equal(block.transform(later), case.block.transform(later))
