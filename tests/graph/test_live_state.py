"""The live state with the party graph: folds append, the snapshots they change are
computed when a row first needs one (or on refresh), and the result equals a refit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.timebase import period_of, to_seconds
from graph import block as block_module
from graph.pipeline_blocks import all_blocks
from tests.features.live import Batch, Feed
from tests.graph.conftest import Case


@pytest.fixture(scope="module")
def feed(case: Case) -> Feed:
    return Feed.of(case.declarations, case.controls, case.filings, case.items, 0.5)


@pytest.fixture(scope="module")
def batches(feed: Feed) -> list[Batch]:
    """30 batches of 30 to 400 declarations, crossing snapshot periods."""
    sizes = np.random.default_rng(11).integers(30, 401, 30).tolist()
    return feed.batches(sizes, early_share=0.1, seed=11)


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = block_module.snapshot_features

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(block_module, "snapshot_features", counted)
    return calls


def test_folds_with_the_graph_equal_a_refit(feed: Feed, batches: list[Batch]) -> None:
    pipe = feed.fit(all_blocks())
    for k, b in enumerate(batches):
        if k % 2:
            pipe.update(b.declarations, b.controls, b.filings, b.items)
        else:  # the API way: scored first (which computes what the rows need), then folded
            records = b.linked().records()
            pipe.transform_records(records)
            pipe.update_records(records, b.controls)
    given = [b if k % 2 else b.linked() for k, b in enumerate(batches)]
    refit = feed.refit(given, all_blocks())
    probe = feed.probe()
    np.testing.assert_allclose(
        pipe.transform(probe, feed.f, feed.i),
        refit.transform(probe, feed.f, feed.i),
        rtol=1e-6,
        atol=1e-6,
    )
    days = {b.declarations.lodged_at.dt.floor("D").iloc[0] for b in batches}
    assert len(days) > 5


def test_snapshots_are_computed_when_a_row_first_needs_them(
    feed: Feed, batches: list[Batch], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = feed.fit(all_blocks())
    graph = pipe.blocks[-1]
    calls = _counted(monkeypatch)
    for b in batches[:3]:
        pipe.update(b.declarations, b.controls, b.filings, b.items)
    assert calls == []  # folds only append
    assert graph.stale_from_ is not None
    days = graph.config.period_days
    last = batches[2].declarations
    period = int(period_of(int(to_seconds(last.lodged_at).max()), days))
    same = last.iloc[-5:]
    assert (period_of(to_seconds(same.lodged_at), days) < graph.stale_from_).all()
    pipe.transform(same, feed.f, feed.i)  # its period's snapshot is current
    assert calls == []
    later = same.copy()
    later["lodged_at"] = pd.Timestamp(int(period + 2) * days * 86_400, unit="s", tz="UTC")
    x = pipe.transform(later, feed.f, feed.i)  # the next periods' snapshots: computed now
    assert len(calls) >= 1
    assert graph.stale_from_ is None
    done = len(calls)
    pipe.refresh()
    assert len(calls) == done  # nothing left to compute
    refit = feed.refit(batches[:3], all_blocks())
    np.testing.assert_allclose(x, refit.transform(later, feed.f, feed.i), rtol=1e-6, atol=1e-6)


def test_a_stale_state_saves_current_and_refresh_computes_ahead(
    feed: Feed, batches: list[Batch], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pipe = feed.fit(all_blocks())
    for b in batches[:3]:
        pipe.update(b.declarations, b.controls, b.filings, b.items)
    pipe.save(tmp_path / "state")  # stale snapshots are computed into what is saved
    loaded = FeaturePipeline.load(tmp_path / "state", all_blocks())
    later = feed.probe().iloc[400:]
    refit = feed.refit(batches[:3], all_blocks())
    expected = refit.transform(later, feed.f, feed.i)
    calls = _counted(monkeypatch)
    np.testing.assert_allclose(
        loaded.transform(later, feed.f, feed.i), expected, rtol=1e-6, atol=1e-6
    )
    assert calls == []
    for b in batches[3:6]:
        pipe.update(b.declarations, b.controls, b.filings, b.items)
    pipe.refresh()
    done = len(calls)
    assert done >= 1
    pipe.transform(later, feed.f, feed.i)
    assert len(calls) == done


def test_snapshots_mapped_elsewhere_equal_those_computed_here(
    feed: Feed, batches: list[Batch]
) -> None:
    """``refresh(mapper)`` (how ``score --dask`` computes them on the workers): each run of
    periods goes through pickling, the runs in reverse order, and the tables are the same."""
    import pickle

    here = feed.fit(all_blocks())
    for b in batches[:8]:
        here.update(b.declarations, b.controls, b.filings, b.items)
    there = pickle.loads(pickle.dumps(here))
    tasks: list[int] = []

    def elsewhere(fn, items, shared):
        shipped = pickle.loads(pickle.dumps(shared))
        out = [pickle.loads(pickle.dumps(fn(item, shipped))) for item in reversed(items)]
        tasks.append(len(items))
        return out[::-1]

    here.blocks[-1].refresh()
    there.blocks[-1].refresh(elsewhere)
    assert tasks
    assert tasks[0] >= 1
    np.testing.assert_array_equal(here.blocks[-1].tables_.values, there.blocks[-1].tables_.values)
    assert here.blocks[-1].tables_.first_period == there.blocks[-1].tables_.first_period
