"""Robust baselines (median, MAD, count) per group, snapshotted on the period grid.

The baseline of period p uses only rows lodged before p starts, so a row's valuation
is compared with what was known before it (AMT-style monthly baselines); the last
snapshot (one period past the latest row) holds everything and serves later rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.timebase import period_of, period_start


@dataclass
class Snapshots:
    """Per-period statistics of each group code: arrays of shape (periods, codes)."""

    first_period: int
    median: np.ndarray
    mad: np.ndarray
    count: np.ndarray

    @property
    def periods(self) -> int:
        return self.median.shape[0]

    def index(self, times: np.ndarray, period_days: int) -> np.ndarray:
        """Snapshot row for each time; -1 before the first snapshot."""
        p = period_of(times, period_days) - self.first_period
        return np.where(p < 0, -1, np.minimum(p, self.periods - 1))

    def lookup(
        self, rows: np.ndarray, codes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(median, mad, count) per query; NaN/0 where no snapshot or unseen code."""
        ok = (rows >= 0) & (codes >= 0) & (codes < self.median.shape[1])
        r, c = np.where(ok, rows, 0), np.where(ok, codes, 0)
        med = np.where(ok, self.median[r, c], np.nan)
        mad = np.where(ok, self.mad[r, c], np.nan)
        cnt = np.where(ok, self.count[r, c], 0.0)
        return med, mad, cnt


def _stats(codes: np.ndarray, values: np.ndarray, n_codes: int) -> tuple[np.ndarray, ...]:
    med = np.full(n_codes, np.nan, dtype=np.float32)
    mad = np.full(n_codes, np.nan, dtype=np.float32)
    cnt = np.zeros(n_codes, dtype=np.float32)
    ok = (codes >= 0) & np.isfinite(values)
    if not ok.any():
        return med, mad, cnt
    s = pd.Series(values[ok])
    g = s.groupby(codes[ok], sort=False)
    m = g.median()
    dev = (s - m.reindex(codes[ok]).to_numpy()).abs()
    d = dev.groupby(codes[ok], sort=False).median()
    idx = m.index.to_numpy()
    med[idx] = m.to_numpy()
    mad[d.index.to_numpy()] = d.to_numpy()
    cnt[idx] = g.size().reindex(m.index).to_numpy()
    return med, mad, cnt


def compute_snapshots(
    codes: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    n_codes: int,
    period_days: int,
    previous: Snapshots | None = None,
    changed_from: int | None = None,
) -> Snapshots:
    """Snapshots from the first period after the earliest row to one past the latest.

    With ``previous`` and ``changed_from`` (earliest new row time), periods starting at or
    before that time are reused and only later ones are recomputed.
    """
    if len(times) == 0:
        empty = np.zeros((1, n_codes), dtype=np.float32)
        return Snapshots(0, empty + np.nan, empty + np.nan, empty)
    order = np.argsort(times, kind="stable")
    codes, times, values = codes[order], times[order], values[order]
    first = int(period_of(times[0], period_days)) + 1
    last = int(period_of(times[-1], period_days)) + 1
    n_periods = last - first + 1
    med = np.full((n_periods, n_codes), np.nan, dtype=np.float32)
    mad = np.full((n_periods, n_codes), np.nan, dtype=np.float32)
    cnt = np.zeros((n_periods, n_codes), dtype=np.float32)
    done = -1  # rows behind the snapshot computed last: a period adding none repeats it
    for i, p in enumerate(range(first, last + 1)):
        start = int(period_start(p, period_days))
        reusable = (
            previous is not None
            and changed_from is not None
            and start <= changed_from
            and previous.first_period <= p < previous.first_period + previous.periods
        )
        if reusable:
            j = p - previous.first_period
            width = previous.median.shape[1]
            med[i, :width], mad[i, :width], cnt[i, :width] = (
                previous.median[j],
                previous.mad[j],
                previous.count[j],
            )
            continue
        k = int(np.searchsorted(times, start, side="left"))
        if k == done:  # no row lodged in the previous period (a gap in the history)
            med[i], mad[i], cnt[i] = med[i - 1], mad[i - 1], cnt[i - 1]
            continue
        med[i], mad[i], cnt[i] = _stats(codes[:k], values[:k], n_codes)
        done = k
    return Snapshots(first, med, mad, cnt)
