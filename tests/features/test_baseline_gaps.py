"""Valuation baselines over a history with a long gap: the periods of the gap repeat the
snapshot before it instead of recomputing it (a declaration lodged decades ahead used to
make a checkpoint recompute every monthly snapshot up to it: 70-100 s)."""

from __future__ import annotations

import numpy as np
import pytest

from features import baselines
from features.baselines import compute_snapshots
from features.timebase import DAY, period_start


def test_a_gap_repeats_the_last_snapshot_and_computes_only_after_new_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    start = 1_735_689_600  # 2025-01-01
    times = np.concatenate([start + rng.integers(0, 90, 300) * DAY, [start + 30 * 365 * DAY]])
    codes = rng.integers(0, 5, len(times))
    values = rng.normal(size=len(times))
    calls: list[int] = []
    real = baselines._stats

    def counted(c: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
        calls.append(len(c))
        return real(c, v, n)

    monkeypatch.setattr(baselines, "_stats", counted)
    snaps = compute_snapshots(codes, times, values, 5, 30)
    assert snaps.periods > 300  # the grid still spans the 30 years
    assert len(calls) <= 6  # ~3 periods of rows, one after them, one past the last row
    # Every snapshot equals the statistics of the rows before its period starts.
    for row in (0, 2, 3, 100, snaps.periods - 2, snaps.periods - 1):
        before = times < period_start(snaps.first_period + row, 30)
        med, mad, cnt = real(codes[before], values[before], 5)
        np.testing.assert_array_equal(snaps.median[row], med)
        np.testing.assert_array_equal(snaps.mad[row], mad)
        np.testing.assert_array_equal(snaps.count[row], cnt)
