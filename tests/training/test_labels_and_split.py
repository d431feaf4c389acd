"""Time split and label availability: no result known after a window's end labels it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.dataset import label_declarations
from training.split import TimeSplit, time_split

DAY = 86_400
T0 = pd.Timestamp("2025-01-01", tz="UTC")
START = int(T0.timestamp())
SPLIT = TimeSplit(START + 70 * DAY, START + 85 * DAY, START + 100 * DAY)  # days 70, 85, 100


def _at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def _world(rows: list[tuple[str, float, float, str, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declarations and their controls: (id, lodged day, result day, outcome, revenue)."""
    d = pd.DataFrame(
        {
            "declaration_id": [r[0] for r in rows],
            "lodged_at": [_at(r[1] * DAY) for r in rows],
        }
    ).drop_duplicates("declaration_id")
    c = pd.DataFrame(
        {
            "declaration_id": [r[0] for r in rows],
            "controlled_at": [_at(r[2] * DAY) for r in rows],
            "outcome": [r[3] for r in rows],
            "risk_type": ["undervaluation" if r[3] != "no_irregularity" else None for r in rows],
            "revenue_recovered": [r[4] for r in rows],
            "propensity": 0.5,
            "selection_basis": "rule",
        }
    )
    return d, c


def _split_of(rows: list[tuple[str, float, float, str, float]]) -> dict[str, str]:
    d, c = _world(rows)
    lab = label_declarations(d, c, SPLIT)
    ids = d["declaration_id"].to_numpy()[lab.rows]
    return dict(zip(ids, lab.split, strict=True))


def test_a_result_known_after_the_window_ends_does_not_label_it() -> None:
    got = _split_of(
        [
            ("train_early", 10, 20, "irregularity", 100.0),  # known inside train
            ("train_late", 60, 71, "irregularity", 100.0),  # audit after valid_start
            ("train_at_cut", 60, 70, "no_irregularity", 0.0),  # known exactly at the cut
            ("valid_early", 72, 80, "seizure", 5.0),
            ("valid_late", 80, 90, "irregularity", 50.0),  # after test_start
            ("test_late", 90, 400, "irregularity", 70.0),  # the test window takes all
        ]
    )
    assert got == {
        "train_early": "train",
        "train_late": "unused",
        "train_at_cut": "unused",
        "valid_early": "valid",
        "valid_late": "unused",
        "test_late": "test",
    }


def test_labels_any_hit_wins_and_revenue_is_summed() -> None:
    d, c = _world(
        [
            ("a", 10, 12, "no_irregularity", 0.0),
            ("a", 10, 13, "irregularity", 40.0),
            ("a", 10, 14, "irregularity", 2.0),
            ("b", 11, 12, "no_irregularity", 0.0),
        ]
    )
    lab = label_declarations(d, c, SPLIT)
    assert lab.y.tolist() == [1.0, 0.0]
    assert lab.revenue.tolist() == [42.0, 0.0]
    assert lab.risk[1] == -1


@pytest.mark.parametrize(("valid", "test"), [(0.15, 0.15), (0.2, 0.1), (0.1, 0.3)])
def test_time_split_orders_windows_without_overlap(valid: float, test: float) -> None:
    rng = np.random.default_rng(0)
    times = np.sort(rng.integers(1_700_000_000, 1_700_000_000 + 100 * DAY, 5000))
    shuffled = rng.permutation(times)
    split = time_split(shuffled, valid, test)
    window = split.assign(shuffled)
    parts = {name: shuffled[window == name] for name in ("train", "valid", "test")}
    assert sum(len(p) for p in parts.values()) == len(times)
    assert parts["train"].max() < split.valid_start <= parts["valid"].min()
    assert parts["valid"].max() < split.test_start <= parts["test"].min()
    assert split.end == times.max() + 1
    span = split.end - times.min()
    assert (split.end - split.test_start) / span == pytest.approx(test, abs=1e-6)
    assert (split.test_start - split.valid_start) / span == pytest.approx(valid, abs=1e-6)


def test_window_starts_are_inclusive() -> None:
    split = TimeSplit(valid_start=100, test_start=200, end=300)
    got = split.assign(np.array([0, 99, 100, 199, 200, 299]))
    assert got.tolist() == ["train", "train", "valid", "valid", "test", "test"]
