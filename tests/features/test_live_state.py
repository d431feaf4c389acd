"""The live state: many small folds (declarations, ENS, control results out of order)
equal one refit on the concatenated history, whatever the entry point."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from features.events import pack
from features.inputs import concat_inputs, inputs_from_frames, inputs_from_records
from tests.features.conftest import Fitted
from tests.features.live import Batch, Feed

TOLERANCE = {"rtol": 1e-6, "atol": 1e-6}


@pytest.fixture(scope="module")
def feed(fitted: Fitted) -> Feed:
    return Feed.of(fitted.declarations, fitted.controls, fitted.filings, fitted.items, 0.6)


@pytest.fixture(scope="module")
def batches(feed: Feed) -> list[Batch]:
    """50 batches of 20 to 200 declarations; 10 % of results arrive before their row."""
    sizes = np.random.default_rng(5).integers(20, 201, 50).tolist()
    return feed.batches(sizes, early_share=0.1, seed=5)


def fold(pipe: FeaturePipeline, batches: list[Batch], path: str) -> FeaturePipeline:
    for b in batches:
        if path == "frames":
            pipe.update(b.declarations, b.controls, b.filings, b.items)
        elif path == "records":
            pipe.update_records(b.records(), b.controls)
        else:  # prepared inputs, scored first, as the API folds them
            inputs = inputs_from_records(b.records(), with_ens=pipe.with_ens())
            pipe.transform_inputs(inputs)
            pipe.update_inputs(inputs, b.controls)
    return pipe


def assert_same_features(feed: Feed, a: FeaturePipeline, b: FeaturePipeline) -> None:
    probe = feed.probe()
    np.testing.assert_allclose(
        a.transform(probe, feed.f, feed.i), b.transform(probe, feed.f, feed.i), **TOLERANCE
    )


@pytest.mark.parametrize("path", ["frames", "records", "inputs"])
def test_fifty_small_folds_equal_one_refit(feed: Feed, batches: list[Batch], path: str) -> None:
    given = batches if path == "frames" else [b.linked() for b in batches]
    assert sum(len(b.controls) for b in given) > 100
    pipe = fold(feed.fit(), given, path)
    refit = feed.refit(given)
    assert pipe.unmatched_controls_ == refit.unmatched_controls_ > 0  # some still wait
    assert_same_features(feed, pipe, refit)
    profiles = pipe.blocks[0]
    assert len(profiles.activity_.delta) > 0  # both levels of the index were queried
    assert len(profiles.activity_.base) > len(feed.history().declarations) * 5  # and merged


def test_records_fold_like_frames(feed: Feed, batches: list[Batch]) -> None:
    given = [b.linked() for b in batches[:20]]
    start = feed.fit()
    frames = fold(copy.deepcopy(start), given, "frames")
    records = fold(start, given, "records")
    probe = feed.probe()
    np.testing.assert_array_equal(
        frames.transform(probe, feed.f, feed.i), records.transform(probe, feed.f, feed.i)
    )


def test_a_folded_state_saves_loads_and_folds_on(
    feed: Feed, batches: list[Batch], tmp_path: Path
) -> None:
    fold(feed.fit(), batches[:25], "frames").save(tmp_path / "state")
    loaded = fold(FeaturePipeline.load(tmp_path / "state"), batches[25:], "frames")
    assert_same_features(feed, loaded, feed.refit(batches))


def test_rows_folded_out_of_lodging_order_give_the_refit(feed: Feed, batches: list[Batch]) -> None:
    """Late declarations: partners first met earlier, baselines of earlier periods."""
    shuffled = batches[:30][::-1]
    pipe = fold(feed.fit(), shuffled, "frames")
    assert_same_features(feed, pipe, feed.refit(shuffled))


def test_the_whole_filing_table_gives_the_refit_on_every_filing(
    feed: Feed, batches: list[Batch]
) -> None:
    """Passing every filing folds the unlinked ones too (a duplicate filing has no
    declaration, yet counts in the features), reading only what the state lacks."""
    whole = feed.fit()
    for b in batches[:10]:
        whole.update(b.declarations, b.controls, feed.f, feed.i)
    everything = Batch(feed.d.iloc[:0], feed.c.iloc[:0], feed.f, feed.i)
    refit = feed.refit([*batches[:10], everything])
    # Rows whose filing was filed twice (same parties, arrival and route), dated late.
    f = feed.f
    content = f.consignor_id + "|" + f.consignee_id + "|" + f.itinerary
    twice = f[content.map(content.groupby(content).size()).to_numpy() > 2]
    rows = feed.d[feed.d.ens_id.isin(twice.filing_id)].copy()
    rows["lodged_at"] = feed.d.lodged_at.max() + pd.Timedelta(days=1)
    duplicates = list(refit.get_feature_names_out()).index("duplicates")
    expected = refit.transform(rows, f, feed.i)
    assert (expected[:, duplicates] > 0).sum() > 20
    np.testing.assert_allclose(whole.transform(rows, f, feed.i), expected, **TOLERANCE)
    assert_same_features(feed, whole, refit)


def _filings(pipe: FeaturePipeline) -> dict[str, tuple[str, int]]:
    """Content and first filing time of every filing the route block knows, after
    checking that its content index holds exactly those events."""
    route = next(b for b in pipe.blocks if b.name == "route")
    content, first = route.filing_content_, route.filing_first_
    index = route.content_index_
    held = np.sort(np.concatenate([index.base.keys, index.delta.keys]))
    np.testing.assert_array_equal(held, np.sort(pack(content[content >= 0], first[content >= 0])))
    keys = route.vocab_["content"].values
    return {
        filing: (keys[c] if c >= 0 else None, int(t))
        for filing, c, t in zip(route.filing_vocab_.values, content, first, strict=True)
    }


def test_an_earlier_version_filed_late_moves_its_filing(feed: Feed, batches: list[Batch]) -> None:
    b = batches[5]
    fresh = ~b.filings.filing_id.isin(feed.history().filings.filing_id)
    placi = b.filings[(b.filings.filing_type == "pre_loading") & fresh]
    assert placi.filing_id.isin(b.declarations.ens_id).sum() > 5
    pipe = feed.fit()
    pipe.update(b.declarations, b.controls, b.filings.drop(placi.index), b.items)
    pipe.update(ens_filings=placi)  # the pre-loading versions arrive after the full ones
    assert _filings(pipe) == _filings(feed.refit([b]))


def test_folding_inputs_without_their_ens_versions_warns(
    feed: Feed, batches: list[Batch], caplog: pytest.LogCaptureFixture
) -> None:
    b = batches[0]
    inputs = inputs_from_frames(b.declarations, b.filings, b.items)  # no versions kept
    with caplog.at_level("WARNING", logger="features.pipeline"):
        feed.fit().update_inputs(inputs, b.controls)
    assert "carry no ENS versions" in caplog.text


def test_single_records_concatenated_fold_like_their_batch(
    feed: Feed, batches: list[Batch]
) -> None:
    """A server folds the one-row batches of single requests in one update
    (``concat_inputs``): the same state as the rows prepared and folded together."""
    batch = batches[0].linked()
    records = batch.records()
    start = feed.fit()
    together = inputs_from_records(records, with_ens=start.with_ens())
    singles = [inputs_from_records([r], with_ens=start.with_ens()) for r in records]
    (joined,) = concat_inputs(singles)  # one layout: one run
    np.testing.assert_array_equal(joined.time, together.time)
    for name, column in together.text.items():
        assert list(joined.text[name]) == list(column), name
    assert together.versions is not None
    assert joined.versions is not None
    assert len(joined.versions["row"]) == len(together.versions["row"]) > len(records) / 2
    order = np.lexsort((joined.versions["version"], joined.versions["row"]))
    expected = np.lexsort((together.versions["version"], together.versions["row"]))
    for name, column in together.versions.items():
        assert list(joined.versions[name][order]) == list(column[expected]), name
    a = copy.deepcopy(start).update_inputs(joined, batch.controls)
    b = start.update_inputs(together, batch.controls)
    assert_same_features(feed, a, b)
