"""``LayeredIndex``: an ``EventIndex`` that takes new events cheaply (two-level LSM).

A large sorted *base* holds the history; a small sorted *delta* in front of it holds the
events folded in since the last merge. Folding merges the new events into the delta
(linear in the delta); queries search both levels and add up (counts, prefix-sum
totals) or take the minimum (first time). The delta is merged into the base once the
work spent on delta merges since the last base merge reaches the size of the base:
a fold of f events into a base of n then costs O(sqrt(n f)) amortised (the delta
peaks near sqrt(2 n f)), the textbook optimum of two levels, whatever the fold sizes.

Positions come back as ``Positions`` (one array per level): ``hi - lo`` is the number
of events between, ``total(name, lo, hi)`` their sum, as with a plain ``EventIndex``.
Every result equals that of one ``EventIndex`` over all the events, up to the float
rounding of the sums. Not safe for a fold concurrent with a query (see
``FeaturePipeline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.events import EventIndex

_TIME_MASK = np.int64(0xFFFFFFFF)
MERGE_MIN = 4096  # a base smaller than this is merged into at this much delta work


@dataclass(frozen=True)
class Positions:
    """Positions of queries in each level of a ``LayeredIndex``."""

    parts: tuple[np.ndarray, ...]

    def __sub__(self, other: Positions) -> np.ndarray:
        """Number of events between two positions of the same queries."""
        out = self.parts[0] - other.parts[0]
        for hi, lo in zip(self.parts[1:], other.parts[1:], strict=True):
            out = out + (hi - lo)
        return out


def _empty_like(index: EventIndex) -> EventIndex:
    return EventIndex.from_sorted(
        np.zeros(0, dtype=np.int64), {name: np.zeros(0) for name in index.values}
    )


class LayeredIndex:
    """Events sorted by (entity, time) in two levels, with prefix sums of their values."""

    def __init__(self, codes: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        self.base = EventIndex(codes, times, values)
        self.delta = _empty_like(self.base)
        self._work = 0

    def __len__(self) -> int:
        return len(self.base) + len(self.delta)

    def _levels(self) -> tuple[EventIndex, ...]:
        return (self.base, self.delta) if len(self.delta) else (self.base,)

    # ----- folding -------------------------------------------------------------------
    def fold(self, codes: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Add events (negative codes are dropped, as at construction)."""
        new = EventIndex(codes, times, values)
        if not len(new):
            return
        self.delta = self.delta.merged(new)
        self._work += len(self.delta)
        if self._work >= max(len(self.base), MERGE_MIN):
            self.merge()

    def merge(self) -> None:
        """Move the delta into the base (linear in the base)."""
        if len(self.delta):
            self.base = self.base.merged(self.delta)
            self.base.starts  # noqa: B018 - built now, not by the next query
            self.base.prefix  # noqa: B018
            self.delta = _empty_like(self.base)
        self._work = 0

    # ----- queries -------------------------------------------------------------------
    def order(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray | None:
        """A sorting permutation of the queries for large batches (see ``EventIndex``)."""
        return self.base.order(codes, times)

    def positions(
        self, codes: np.ndarray, times: np.ndarray, order: np.ndarray | None = None
    ) -> Positions:
        """Positions of (code, time) in each level: the ends of "events before time"."""
        return Positions(tuple(level.positions(codes, times, order) for level in self._levels()))

    def starts_of(self, codes: np.ndarray) -> Positions:
        """Positions of each code's first event in each level."""
        parts = [self.base.starts_of(codes)]
        if len(self.delta):
            parts.append(self.delta.positions(codes, np.zeros(np.shape(codes), np.int64)))
        return Positions(tuple(parts))

    def bounds(
        self, codes: np.ndarray, start: np.ndarray, end: np.ndarray, order: np.ndarray | None = None
    ) -> tuple[Positions, Positions]:
        """Positions of the events of each entity with start <= time < end."""
        if order is None:
            order = self.order(codes, end)
        hi = self.positions(codes, end, order)
        if np.all(np.asarray(start) <= 0):
            shape = np.shape(hi.parts[0])
            lo = tuple(np.broadcast_to(f, shape) for f in self.starts_of(codes).parts)
        else:
            lo = self.positions(codes, start, order).parts
        return Positions(tuple(np.minimum(a, b) for a, b in zip(lo, hi.parts, strict=True))), hi

    def count(self, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Number of events of each entity with start <= time < end."""
        lo, hi = self.bounds(codes, start, end)
        return (hi - lo).astype(np.float64)

    def total(self, name: str, lo: Positions, hi: Positions) -> np.ndarray:
        """Sum of a value over the events between two positions."""
        levels = self._levels()
        out = levels[0].total(name, lo.parts[0], hi.parts[0])
        for level, a, b in zip(levels[1:], lo.parts[1:], hi.parts[1:], strict=True):
            out = out + level.total(name, a, b)
        return out

    def first_times(self, lo: Positions, hi: Positions) -> np.ndarray:
        """Time of the first event between two positions; -1 where there is none."""
        out: np.ndarray | None = None
        for level, a, b in zip(self._levels(), lo.parts, hi.parts, strict=True):
            if len(level) == 0:
                found = np.full(np.shape(a), -1, dtype=np.int64)
            else:
                has = b > a
                found = np.where(has, level.keys[np.where(has, a, 0)] & _TIME_MASK, -1)
            if out is None:
                out = found
            else:
                out = np.where((found >= 0) & ((out < 0) | (found < out)), found, out)
        assert out is not None
        return out

    def first_time(
        self, codes: np.ndarray, end: np.ndarray, order: np.ndarray | None = None
    ) -> np.ndarray:
        """Time of each entity's first event before ``end``; -1 when there is none."""
        lo, hi = self.bounds(codes, np.zeros_like(end), end, order)
        return self.first_times(lo, hi)
