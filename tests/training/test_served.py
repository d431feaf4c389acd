"""Evaluation as served: a window's features never use a result known inside the window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.timebase import to_seconds
from training.served import WindowFeatures, controls_known_before, default_pipeline, served_window
from training.split import time_split

DAYS = 60  # a slice of the session world: four pipeline fits stay quick


@pytest.fixture(scope="module")
def small(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The first DAYS days of the session world, with their controls and ENS."""
    d = frames["declarations"]
    cut = d["lodged_at"].min() + pd.Timedelta(days=DAYS)
    d = d[d["lodged_at"] < cut].reset_index(drop=True)
    c = frames["controls"]
    return {
        "declarations": d,
        "controls": c[c["declaration_id"].isin(d["declaration_id"])].reset_index(drop=True),
        "ens_filings": frames["ens_filings"],
        "ens_items": frames["ens_items"],
    }


def _flipped(frames: dict[str, pd.DataFrame], start: int) -> dict[str, pd.DataFrame]:
    """Every control result of the declarations lodged from ``start`` on, outcome flipped."""
    d, c = frames["declarations"], frames["controls"].copy()
    lodged = to_seconds(c["declaration_id"].map(d.set_index("declaration_id")["lodged_at"]))
    late = lodged >= start
    c.loc[late, "outcome"] = np.where(
        c.loc[late, "outcome"] == "no_irregularity", "irregularity", "no_irregularity"
    )
    c.loc[late, "revenue_recovered"] = np.where(c.loc[late, "revenue_recovered"] > 0, 0.0, 500.0)
    assert late.sum() > 100
    return {**frames, "controls": c}


def test_flipping_every_test_window_label_leaves_as_served_features_unchanged(small) -> None:
    """As served: identical; live-label features of the same rows: changed."""
    times = to_seconds(small["declarations"]["lodged_at"])
    split = time_split(times)
    rows = np.flatnonzero(times >= split.test_start)
    flipped = _flipped(small, split.test_start)
    before = served_window(small, split.test_start, rows)
    after = served_window(flipped, split.test_start, rows)
    np.testing.assert_array_equal(before.x, after.x)

    def live(frames: dict[str, pd.DataFrame]) -> np.ndarray:
        x = default_pipeline().fit_transform(
            frames["declarations"], frames["controls"], frames["ens_filings"], frames["ens_items"]
        )
        return x[rows]

    live_before = live(small)
    assert not np.array_equal(live_before, live(flipped), equal_nan=True)
    # the served window differs from the live one only through labels known inside it
    assert not np.array_equal(live_before, before.x, equal_nan=True)


def test_a_result_counts_from_its_declarations_lodging_at_the_earliest() -> None:
    t0 = pd.Timestamp("2025-03-01", tz="UTC")
    d = pd.DataFrame(
        {"declaration_id": ["a", "b", "c"], "lodged_at": [t0, t0 + pd.Timedelta(days=5), t0]}
    )
    c = pd.DataFrame(
        {
            "declaration_id": ["a", "b", "c", "orphan"],
            "controlled_at": [
                t0 + pd.Timedelta(days=1),  # known at day 1
                t0 + pd.Timedelta(days=1),  # dated before its lodging: known at day 5
                t0 + pd.Timedelta(days=3),  # known at day 3: on the cut, not before it
                t0 + pd.Timedelta(days=2),  # no declaration: its own date
            ],
        }
    )
    cut = int((t0 + pd.Timedelta(days=3)).timestamp())
    kept = controls_known_before(d, c, cut)["declaration_id"].tolist()
    assert kept == ["a", "orphan"]


def test_window_features_refuse_rows_outside_the_window() -> None:
    w = WindowFeatures(np.array([3, 5, 9]), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(w.at(np.array([9, 3])), [[4.0, 5.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="outside the window"):
        w.at(np.array([4]))
    with pytest.raises(ValueError, match="outside the window"):
        w.at(np.array([10]))
