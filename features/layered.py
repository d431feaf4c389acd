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
Queries read the delta only for the entities that have events there, and large
batches mostly by each entity's run (see ``_search_delta``), so that a state folded
into is nearly as fast to read as a merged one.
Every result equals that of one ``EventIndex`` over all the events, up to the float
rounding of the sums. Not safe for a fold concurrent with a query (see
``FeaturePipeline``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.events import EventIndex, pack

_TIME_MASK = np.int64(0xFFFFFFFF)
MERGE_MIN = 4096  # a base smaller than this is merged into at this much delta work
RUNS_FROM = 256  # queried entities from which the delta is read by entity runs


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
        # The delta's entities: run number of each code (-1: no delta events; the last
        # slot stays -1 for unseen codes and codes past the end), and the codes by run.
        top = int(self.base.keys[-1] >> 32) + 2 if len(self.base) else 1
        self._run_of = np.full(top, -1, dtype=np.int32)
        self._entities = np.zeros(0, dtype=np.int64)
        self._runs_cache: tuple[np.ndarray, ...] | None = None

    def __len__(self) -> int:
        return len(self.base) + len(self.delta)

    # ----- folding -------------------------------------------------------------------
    def fold(self, codes: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Add events (negative codes are dropped, as at construction)."""
        new = EventIndex(codes, times, values)
        if not len(new):
            return
        entities = new.keys >> 32
        entities = entities[np.r_[True, entities[1:] != entities[:-1]]]
        top = int(entities[-1]) + 2
        if top > len(self._run_of):
            grown = np.full(max(top, 2 * len(self._run_of)), -1, dtype=np.int32)
            grown[: len(self._run_of) - 1] = self._run_of[:-1]
            self._run_of = grown
        fresh = entities[self._run_of[entities] < 0]
        self._run_of[fresh] = np.arange(len(self._entities), len(self._entities) + len(fresh))
        self._entities = np.concatenate([self._entities, fresh])
        self.delta = self.delta.merged(new)
        self._runs_cache = None
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
            self._run_of[self._entities] = -1
            self._entities = np.zeros(0, dtype=np.int64)
            self._runs_cache = None
        self._work = 0

    # ----- queries -------------------------------------------------------------------
    def order(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray | None:
        """A sorting permutation of the queries for large batches (see ``EventIndex``)."""
        return self.base.order(codes, times)

    def positions(
        self, codes: np.ndarray, times: np.ndarray, order: np.ndarray | None = None
    ) -> Positions:
        """Positions of (code, time) in each level: the ends of "events before time"."""
        return self.positions_at(codes, [times], order)[0]

    def positions_at(
        self, codes: np.ndarray, times: Sequence[np.ndarray], order: np.ndarray | None = None
    ) -> list[Positions]:
        """``positions`` of the same codes at several times (windows), searched at once."""
        shape = np.broadcast_shapes(np.shape(codes), *(np.shape(t) for t in times))
        codes = np.broadcast_to(codes, shape)
        queries = np.stack([pack(codes, np.maximum(np.broadcast_to(t, shape), 0)) for t in times])
        base = self._search_base(queries, order)
        delta = self._search_delta(codes, queries)
        if delta is None:
            return [Positions((b,)) for b in base]
        return [Positions((b, d)) for b, d in zip(base, delta, strict=True)]

    def starts_of(self, codes: np.ndarray) -> Positions:
        """Positions of each code's first event in each level."""
        base = self.base.starts_of(codes)
        delta = self._search_delta(codes, pack(codes, np.zeros(np.shape(codes), np.int64))[None])
        return Positions((base,) if delta is None else (base, delta[0]))

    def bounds(
        self, codes: np.ndarray, start: np.ndarray, end: np.ndarray, order: np.ndarray | None = None
    ) -> tuple[Positions, Positions]:
        """Positions of the events of each entity with start <= time < end."""
        if order is None:
            order = self.order(codes, end)
        if np.all(np.asarray(start) <= 0):  # from each entity's first event
            shape = np.broadcast_shapes(np.shape(codes), np.shape(end))
            codes = np.broadcast_to(codes, shape)
            ends = pack(codes, np.maximum(np.broadcast_to(end, shape), 0))
            firsts = pack(codes, np.zeros(shape, np.int64))
            delta = self._search_delta(codes, np.stack([ends, firsts]))
            base_hi = self._search_base(ends[None], order)[0]
            base_lo = np.broadcast_to(self.base.starts_of(codes), shape)
            if delta is None:
                hi, lo = Positions((base_hi,)), (base_lo,)
            else:
                hi, lo = Positions((base_hi, delta[0])), (base_lo, delta[1])
        else:
            hi, low = self.positions_at(codes, [end, start], order)
            lo = low.parts
        return Positions(tuple(np.minimum(a, b) for a, b in zip(lo, hi.parts, strict=True))), hi

    def _search_base(self, queries: np.ndarray, order: np.ndarray | None) -> np.ndarray:
        """Positions in the base of a stack of query blocks; large batches search in sorted
        order (``order`` sorts one block). An unseen code (-1) packs below every event."""
        if order is None:
            return np.searchsorted(self.base.keys, queries, side="left")
        size = queries[0].size
        full = (order[None, :] + np.arange(len(queries))[:, None] * size).ravel()
        out = np.empty(queries.size, dtype=np.intp)
        out[full] = np.searchsorted(self.base.keys, queries.ravel()[full], side="left")
        return out.reshape(queries.shape)

    def _search_delta(self, codes: np.ndarray, queries: np.ndarray) -> np.ndarray | None:
        """Positions in the delta of a stack of query blocks (None: no queried entity has
        events there). An entity without delta events gets 0 for all its queries: there
        are none between any two of them, which is all a pair of positions is used for.
        Small batches search the delta; large ones read each entity's run
        (start, end, first and last time), and search only the queries that fall inside
        it (the delta holds the latest facts, so few do in serving)."""
        if not len(self.delta):
            return None
        codes = np.asarray(codes)
        run = self._run_of[np.minimum(codes, len(self._run_of) - 1)]
        if codes.size < RUNS_FROM:
            picked = run >= 0
            if not picked.any():
                return None
            return np.where(picked, np.searchsorted(self.delta.keys, queries, side="left"), 0)
        present, start, end, first, last = self._entity_runs(run)
        t = queries & _TIME_MASK
        out = np.where(t > last, end, start)
        inside = present & (t > first) & (t <= last)
        if inside.any():
            out[inside] = np.searchsorted(self.delta.keys, queries[inside], side="left")
        return np.where(present, out, 0)

    def _entity_runs(self, run: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per queried entity (its run number, -1 for none): whether it has delta events,
        their start and end positions, first and last times (built once after a fold)."""
        if self._runs_cache is None:
            keys = self.delta.keys
            entity = keys >> 32
            head = np.flatnonzero(np.r_[True, entity[1:] != entity[:-1]])
            end = np.r_[head[1:], len(keys)]
            order = self._run_of[entity[head]]
            runs = [np.empty(len(head), dtype=np.int64) for _ in range(4)]
            for out, value in zip(runs, (head, end, keys[head], keys[end - 1]), strict=True):
                out[order] = value
            runs[2] &= _TIME_MASK
            runs[3] &= _TIME_MASK
            self._runs_cache = tuple(runs)
        start, end, first, last = self._runs_cache
        r = np.maximum(run, 0)
        return run >= 0, start[r], end[r], first[r], last[r]

    def times_of(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every event time of each of ``codes`` (both levels): (which code, time) pairs,
        sorted by code position then time. Costs the events returned, not the index."""
        codes = np.asarray(codes, dtype=np.int64)
        which, times = [], []
        for level in (self.base, self.delta):
            lo = np.searchsorted(level.keys, pack(codes, np.zeros_like(codes)))
            hi = np.searchsorted(level.keys, pack(codes + 1, np.zeros_like(codes)))
            counts = hi - lo
            owner = np.repeat(np.arange(len(codes)), counts)
            at = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            which.append(owner)
            times.append(level.keys[lo[owner] + at] & _TIME_MASK)
        which_all, times_all = np.concatenate(which), np.concatenate(times)
        order = np.lexsort((times_all, which_all))
        return which_all[order], times_all[order]

    def count(self, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Number of events of each entity with start <= time < end."""
        lo, hi = self.bounds(codes, start, end)
        return (hi - lo).astype(np.float64)

    def total(self, name: str, lo: Positions, hi: Positions) -> np.ndarray:
        """Sum of a value over the events between two positions."""
        out = self.base.total(name, lo.parts[0], hi.parts[0])
        if len(hi.parts) > 1:
            out = out + self.delta.total(name, lo.parts[1], hi.parts[1])
        return out

    def first_times(self, lo: Positions, hi: Positions) -> np.ndarray:
        """Time of the first event between two positions; -1 where there is none."""
        out: np.ndarray | None = None
        levels = (self.base, self.delta)[: len(hi.parts)]
        for level, a, b in zip(levels, lo.parts, hi.parts, strict=True):
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
