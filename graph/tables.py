"""``FeatureTables``: the fitted lookup structure, all that ``transform`` reads.

One float32 array ``values`` of shape (snapshots + 1, parties + 1, features): slot 0 is
the empty world (before the first fact), slot ``s + 1`` the snapshot of period
``first_period + s``; the last party column is the prior of that slot, which is also
what every party absent from the snapshot holds. Serving is two index computations
and one gather, no graph work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.timebase import period_of
from graph.schema import FEATURES, prior_row


@dataclass
class FeatureTables:
    """Per-snapshot feature rows of every party code, with a prior row per snapshot."""

    first_period: int
    values: np.ndarray

    @property
    def n_snapshots(self) -> int:
        """Computed snapshots (slots after the empty world)."""
        return self.values.shape[0] - 1

    @property
    def n_codes(self) -> int:
        """Party codes covered (the prior column comes after them)."""
        return self.values.shape[1] - 1

    @classmethod
    def empty(
        cls, first_period: int, n_snapshots: int, n_codes: int, max_distance: int
    ) -> FeatureTables:
        """Tables whose every slot holds the empty-world prior (global rate 0)."""
        values = np.broadcast_to(
            prior_row(0.0, max_distance), (n_snapshots + 1, n_codes + 1, len(FEATURES))
        ).copy()
        return cls(first_period, values)

    def slots(self, time: np.ndarray, period_days: int) -> np.ndarray:
        """Slot of each time: the snapshot of its period, clipped; 0 before the first."""
        period = period_of(np.asarray(time, dtype=np.int64), period_days)
        return np.clip(period - self.first_period + 1, 0, self.n_snapshots)

    def lookup(self, slots: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Feature rows (n, features) of party codes (-1 unseen) in their slots."""
        n_cols = self.n_codes + 1
        column = np.where(codes < 0, self.n_codes, codes)
        flat = self.values.reshape(-1, len(FEATURES))
        return flat[slots * n_cols + column]

    def write(self, period: int, prior: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> None:
        """Store a computed snapshot: ``rows`` for ``codes``, ``prior`` for everyone else."""
        slot = self.values[period - self.first_period + 1]
        slot[:] = prior
        slot[codes] = rows

    def regrid(
        self, first_period: int, n_snapshots: int, n_codes: int, keep_before: int, max_distance: int
    ) -> FeatureTables:
        """New grid and vocabulary size; snapshots of periods < ``keep_before`` carried over.

        Codes added since are given the prior of each kept snapshot (they had no facts
        before it); the other snapshots are left for the caller to compute.
        """
        out = FeatureTables.empty(first_period, n_snapshots, n_codes, max_distance)
        for s in range(self.n_snapshots):
            period = self.first_period + s
            if period >= keep_before or not 0 <= period - first_period < n_snapshots:
                continue
            old = self.values[s + 1]
            new = out.values[period - first_period + 1]
            new[: self.n_codes] = old[: self.n_codes]
            new[self.n_codes :] = old[self.n_codes]
        return out
