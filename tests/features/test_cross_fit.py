"""Cross-fitted label statistics for training rows: other time blocks' results only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.timebase import to_seconds
from tests.features.conftest import Fitted

FOLDS = 3
LABEL_SUFFIXES = ("__controls", "__hits", "__log_revenue", "__hit_rate", "__hit_rate_window")


def _label_columns(names: list[str], ens: bool = True) -> list[int]:
    """Profile control-history columns (``ens=False``: not those of ENS keys, whose
    filing version depends on the lodging time a reference moves)."""
    skip = ("graph__",) if ens else ("graph__", "carrier__", "route__")
    return [j for j, n in enumerate(names) if n.endswith(LABEL_SUFFIXES) and not n.startswith(skip)]


@pytest.fixture(scope="module")
def cut(fitted: Fitted) -> int:
    return int(to_seconds(pd.Series([fitted.declarations.lodged_at.quantile(0.7)]))[0])


def test_a_row_reads_the_other_blocks_as_a_row_scored_at_the_cut(fitted: Fitted, cut: int) -> None:
    """Reference: a pipeline fitted on every declaration and on the results of the other
    blocks' declarations only, scoring the row as if lodged at the cut."""
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    pipe = fitted.pipeline
    rows = np.flatnonzero(to_seconds(d.lodged_at) < cut)
    inputs = pipe.fitted_inputs_.take(rows)
    crossed = pipe.transform_cross_fitted(inputs, cut, FOLDS)
    plain = pipe.transform_inputs(inputs)
    names = list(pipe.spec_.names)
    labels = _label_columns(names)
    others = [j for j in range(len(names)) if j not in labels]
    np.testing.assert_array_equal(crossed[:, others], plain[:, others])
    assert not np.allclose(crossed[:, labels], plain[:, labels])
    edges = np.quantile(inputs.time, np.linspace(0, 1, FOLDS + 1)[1:-1])
    block = np.searchsorted(edges, inputs.time, side="right")
    lodged = to_seconds(d.lodged_at)
    for b in range(FOLDS):
        mine = d.declaration_id.iloc[rows[block == b]]
        outside = ~c.declaration_id.isin(mine)
        reference = FeaturePipeline().fit(d, c[outside.to_numpy()], f, i)
        pick = np.flatnonzero(block == b)[:: max(1, (block == b).sum() // 60)]
        probe = d.iloc[rows[pick]].copy()
        probe["lodged_at"] = pd.to_datetime(cut, unit="s", utc=True)
        same = _label_columns(names, ens=False)
        expected = reference.transform(probe, f, i)[:, same]
        np.testing.assert_allclose(crossed[pick][:, same], expected, rtol=1e-5, atol=1e-6)
        assert (lodged[rows[pick]] < cut).all()


def test_own_block_and_later_results_do_not_move_a_row(fitted: Fitted, cut: int) -> None:
    """Flipping the results of a row's own block, or results known after the cut,
    leaves its cross-fitted features unchanged; flipping another block's moves them."""
    d, c, f, i = fitted.declarations, fitted.controls, fitted.filings, fitted.items
    lodged = to_seconds(d.lodged_at)
    rows = np.flatnonzero(lodged < cut)
    times = lodged[rows]
    edges = np.quantile(times, np.linspace(0, 1, FOLDS + 1)[1:-1])
    block = np.searchsorted(edges, times, side="right")
    first = set(d.declaration_id.iloc[rows[block == 0]])

    def crossed(controls: pd.DataFrame) -> np.ndarray:
        pipe = FeaturePipeline().fit(d, controls, f, i)
        inputs = pipe.fitted_inputs_.take(rows)
        return pipe.transform_cross_fitted(inputs, cut, FOLDS)[block == 0]

    def flip(mask: np.ndarray) -> pd.DataFrame:
        out = c.copy()
        hit = out.outcome.isin(["irregularity", "seizure"]).to_numpy()
        out.loc[mask & hit, "outcome"] = "no_irregularity"
        out.loc[mask & ~hit, "outcome"] = "irregularity"
        return out

    base = crossed(c)
    own = c.declaration_id.isin(first).to_numpy()
    lodged_of = c.declaration_id.map(d.set_index("declaration_id").lodged_at)
    late = (to_seconds(c.controlled_at) >= cut) | (to_seconds(lodged_of) >= cut)
    np.testing.assert_array_equal(crossed(flip(own)), base)
    np.testing.assert_array_equal(crossed(flip(np.asarray(late))), base)
    other = ~own & ~np.asarray(late)
    assert not np.array_equal(crossed(flip(other)), base)
