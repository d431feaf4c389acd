"""Edges last a window after their pair's last declaration: short windows (7-day periods,
14-day edges) keep the point-in-time and fold equalities, across a gap in the facts."""

from __future__ import annotations

import numpy as np
import pytest

from features.inputs import inputs_from_frames
from features.timebase import DAY, period_of, period_start, to_seconds
from graph import GraphBlock, GraphConfig
from graph.pipeline_blocks import all_blocks
from tests.features.live import Feed
from tests.features.test_live_state import assert_same_features, fold
from tests.graph.conftest import Case, events, fit

SHORT = GraphConfig(period_days=7, edge_window_days=14)


@pytest.fixture(scope="module")
def short(case: Case) -> GraphBlock:
    block = GraphBlock(SHORT)
    block.fit(case.inputs, events(case.controls, case.declarations.declaration_id), None)
    return block


def test_the_graph_forgets_pairs_and_differs_from_the_whole_history(
    case: Case, short: GraphBlock
) -> None:
    x = short.transform(case.inputs)
    names = short.feature_names()
    degree = names.index("graph__importer__degree")
    size = names.index("graph__importer__component_size")
    whole = GraphBlock(GraphConfig(period_days=7))
    whole.fit(case.inputs, events(case.controls, case.declarations.declaration_id), None)
    y = whole.transform(case.inputs)
    late = (
        to_seconds(case.declarations.lodged_at)
        > to_seconds(case.declarations.lodged_at).max() - 10 * DAY
    )
    assert (x[late, degree] <= y[late, degree]).all()
    assert x[late, size].mean() < y[late, size].mean()


@pytest.mark.parametrize("gap_days", [0, 21])
def test_a_state_fitted_before_t_serves_rows_at_t_like_the_full_state(
    case: Case, gap_days: int
) -> None:
    """Also after a gap with no fact longer than the window: the state extends its grid
    to the rows' period (pairs have left) as the full state has it."""
    d, c, f, i = case.declarations, case.controls, case.filings, case.items
    times = to_seconds(d.lodged_at)
    controlled = to_seconds(c.controlled_at)
    t = int(period_start(period_of(int(times[int(len(d) * 0.8)]), 7), 7))
    cut = t - gap_days * DAY
    past_d = d[times < cut]
    past_c = c[(controlled < cut) & c.declaration_id.isin(past_d.declaration_id)]
    past_f = f[to_seconds(f.filed_at) < cut]
    past_i = i.merge(past_f[["filing_id", "version"]], on=["filing_id", "version"])
    state = fit(past_d, past_c, past_f, past_i, SHORT)
    # the full history without the gap's facts, so that both know the same past
    full_d = d[(times < cut) | (times >= t)]
    known = (controlled < cut) | (controlled >= t)
    full = fit(full_d, c[c.declaration_id.isin(full_d.declaration_id) & known], f, i, SHORT)
    lodged = to_seconds(full_d.lodged_at)
    rows = full_d[(lodged >= t) & (lodged < t + DAY)]
    assert len(rows) > 50
    assert len(past_d) > 5000
    inputs = inputs_from_frames(rows, f, i)
    np.testing.assert_array_equal(state.transform(inputs), full.transform(inputs))


def test_folds_with_short_edges_equal_a_refit(case: Case) -> None:
    feed = Feed.of(case.declarations, case.controls, case.filings, case.items, 0.5)
    batches = feed.batches(np.random.default_rng(4).integers(100, 600, 15).tolist(), 0.1, 4)
    pipe = fold(feed.fit(all_blocks(SHORT)), batches, "frames")
    assert_same_features(feed, pipe, feed.refit(batches, all_blocks(SHORT)))
