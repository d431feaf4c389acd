"""Cross-fitted label statistics for training rows: opt-in, leak-free by time block,
computed from the other blocks' results; scoring keeps the point-in-time transform."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.crossfit import reference_times, time_blocks
from features.inputs import inputs_from_frames
from features.profiles import LABEL_STATS, ProfileBlock
from features.timebase import DAY, to_seconds
from tests.features.conftest import Fitted
from tests.features.test_point_in_time import _flip

FOLDS = 5


def test_time_blocks_are_equal_ordered_and_keep_ties_together() -> None:
    rng = np.random.default_rng(0)
    times = rng.integers(0, 500, 10_000)
    block = time_blocks(times, FOLDS)
    assert np.bincount(block).min() > 0.18 * len(times)
    order = np.argsort(times, kind="stable")
    assert (np.diff(block[order]) >= 0).all()
    for t in (0, 250, 499):
        assert len(set(block[times == t])) == 1
    with pytest.raises(ValueError, match="at least 2 time blocks"):
        time_blocks(times, 1)


def test_reference_times_lie_in_the_history() -> None:
    window = 365 * DAY
    short = reference_times(np.array([0, 50 * DAY, 99 * DAY]), 0, 100 * DAY, window)
    assert (short == 100 * DAY).all()  # history shorter than the window: its end
    start, end = 0, 1000 * DAY
    t = np.array([10 * DAY, 500 * DAY, 990 * DAY])
    ref = reference_times(t, start, end, window)
    np.testing.assert_array_equal(ref, [365 * DAY, 500 * DAY + window // 2, end])


def test_cross_fit_is_off_by_default(fitted: Fitted) -> None:
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    np.testing.assert_array_equal(
        fitted.features.to_numpy(), fitted.pipeline.transform(d, f, i), strict=True
    )
    crossed = FeaturePipeline().fit_transform(d, c, f, i, cross_fit=True)
    names = list(fitted.pipeline.get_feature_names_out())
    label = [j for j, n in enumerate(names) if n.rsplit("__", 1)[-1] in LABEL_STATS]
    other = [j for j in range(len(names)) if j not in set(label)]
    np.testing.assert_array_equal(crossed[:, other], fitted.features.to_numpy()[:, other])
    assert (crossed[:, label] != fitted.features.to_numpy()[:, label]).any(axis=0).mean() > 0.9


def test_cross_fit_takes_only_the_fitted_rows(fitted: Fitted) -> None:
    profiles = next(b for b in fitted.pipeline.blocks if isinstance(b, ProfileBlock))
    inputs = inputs_from_frames(fitted.declarations.iloc[:100])
    with pytest.raises(ValueError, match="fitted history's own rows"):
        profiles.cross_fit_transform(inputs)


def _crossed_rows(f: Fitted, controls: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    x = FeaturePipeline().fit_transform(
        f.declarations, controls, f.filings, f.items, cross_fit=True
    )
    return x[rows]


@pytest.fixture(scope="module")
def probe(fitted: Fitted) -> tuple[int, np.ndarray, pd.Series]:
    """A controlled row of the middle block whose importer has results in other blocks,
    the block of every row, and the row's own control."""
    d, c = fitted.declarations, fitted.controls
    block = time_blocks(to_seconds(d.lodged_at), FOLDS)
    merged = c.merge(d[["declaration_id", "importer_id"]], on="declaration_id")
    merged["block"] = block[d.set_index("declaration_id").index.get_indexer(merged.declaration_id)]
    spread = merged.groupby("importer_id").block.nunique()
    busy = merged[merged.importer_id.isin(spread[spread >= 3].index) & (merged.block == 2)]
    own = busy.iloc[0]
    row = int(np.flatnonzero(d.declaration_id == own.declaration_id)[0])
    return row, block, own


def test_own_result_and_own_block_do_not_move_a_training_row(fitted: Fitted, probe) -> None:
    row, block, own = probe
    d, c = fitted.declarations, fitted.controls
    same_block = c[c.declaration_id.isin(d.declaration_id[block == block[row]])].control_id
    assert own.control_id in set(same_block)
    before = _crossed_rows(fitted, c, np.array([row]))
    after = _crossed_rows(fitted, _flip(c, same_block), np.array([row]))
    np.testing.assert_array_equal(before, after)


def test_a_result_of_another_block_moves_a_training_row(fitted: Fitted, probe) -> None:
    row, block, own = probe
    d, c = fitted.declarations, fitted.controls
    merged = c.merge(d[["declaration_id", "importer_id"]], on="declaration_id")
    row_of = d.set_index("declaration_id").index.get_indexer(merged.declaration_id)
    other = merged[(merged.importer_id == own.importer_id) & (block[row_of] != block[row])]
    # A later block's result counts too: the row sees future blocks, never its own.
    later = other[block[d.set_index("declaration_id").index.get_indexer(other.declaration_id)] > 2]
    assert len(later) > 0
    names = list(fitted.pipeline.get_feature_names_out())
    before = _crossed_rows(fitted, c, np.array([row]))[0]
    after = _crossed_rows(fitted, _flip(c, later.control_id.iloc[:1]), np.array([row]))[0]
    changed = {names[j] for j in np.flatnonzero(before != after)}
    assert {"importer__hits", "importer__hit_rate", "importer__hit_rate_all"} <= changed


def test_cross_fitted_counts_are_the_other_blocks_results(fitted: Fitted) -> None:
    """The fixture's history (80 days) is shorter than the label window: a row sees every
    result of the other blocks."""
    d, c = fitted.declarations, fitted.controls
    x = FeaturePipeline().fit_transform(d, c, cross_fit=True)
    names = list(fitted.pipeline.get_feature_names_out())
    block = time_blocks(to_seconds(d.lodged_at), FOLDS)
    merged = c.merge(d[["declaration_id", "importer_id"]], on="declaration_id")
    merged["block"] = block[d.set_index("declaration_id").index.get_indexer(merged.declaration_id)]
    merged["hit"] = merged.outcome.isin(("irregularity", "seizure"))
    for row in np.linspace(0, len(d) - 1, 40).astype(int):
        same = merged.importer_id == d.importer_id.iloc[row]
        mine = merged[same & (merged.block != block[row])]
        assert x[row, names.index("importer__controls")] == len(mine)
        assert x[row, names.index("importer__hits")] == mine.hit.sum()
