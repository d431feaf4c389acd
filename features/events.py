"""Time-stamped events of entities, sorted for point-in-time queries.

Each event has an entity code, a time and optional values. Keys pack (code, time) into
one int64 so that "events of entity e strictly before t" is a binary search, for one
row or a million. Prefix sums of the values give window sums in O(log n).

``EventIndex`` is one sorted array; ``features.layered.LayeredIndex`` puts a small one
in front of a large one so that new events can be folded in cheaply.
"""

from __future__ import annotations

import numpy as np

from features.timebase import MAX_TIME

_SHIFT = np.int64(32)
_TIME_MASK = np.int64(0xFFFFFFFF)


def pack(codes: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Sortable (code, time) keys; negative codes (unseen) sort before every event."""
    return (np.asarray(codes, dtype=np.int64) << _SHIFT) | np.asarray(times, dtype=np.int64)


class EventIndex:
    """Events sorted by (entity, time) with prefix sums of their values."""

    def __init__(self, codes: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray]) -> None:
        times = np.asarray(times, dtype=np.int64)
        if len(times) and (times.min() < 0 or times.max() > MAX_TIME):
            raise ValueError("event times must lie between 1970 and 2106")
        codes = np.asarray(codes, dtype=np.int64)
        keep = codes >= 0
        keys = pack(codes[keep], times[keep])
        order = np.argsort(keys, kind="stable")
        sorted_values = {
            name: np.asarray(v, dtype=np.float64)[keep][order] for name, v in values.items()
        }
        self._set(keys[order], sorted_values)

    @classmethod
    def from_sorted(cls, keys: np.ndarray, values: dict[str, np.ndarray]) -> EventIndex:
        """An index over keys already sorted, with their values in the same order."""
        out = cls.__new__(cls)
        out._set(keys, values)
        return out

    def _set(self, keys: np.ndarray, values: dict[str, np.ndarray]) -> None:
        self.keys = keys
        self.values = values  # in key order: what a merge needs
        self._prefix: dict[str, np.ndarray] | None = None
        self._starts: np.ndarray | None = None

    @property
    def prefix(self) -> dict[str, np.ndarray]:
        """Prefix sums of every value (built on first use: a fold's new events never are)."""
        if self._prefix is None:
            self._prefix = {
                name: np.concatenate([[0.0], np.cumsum(v)]) for name, v in self.values.items()
            }
        return self._prefix

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def times(self) -> np.ndarray:
        """Time of every event, in key order."""
        return self.keys & _TIME_MASK

    @property
    def starts(self) -> np.ndarray:
        """First position of every code (CSR offsets): "all events before t" needs one
        search. Built on first use (a small index in front of a large one never needs it)."""
        if self._starts is None:
            codes = self.keys >> _SHIFT
            counts = np.bincount(codes, minlength=1) if len(codes) else np.zeros(1, np.int64)
            self._starts = np.concatenate([[0], np.cumsum(counts)])
        return self._starts

    def merged(self, other: EventIndex) -> EventIndex:
        """A new index holding the events of both (a linear merge of the sorted arrays)."""
        if not len(other):
            return self
        if not len(self):
            return other
        at = np.searchsorted(self.keys, other.keys, side="right")
        keys = np.insert(self.keys, at, other.keys)
        values = {name: np.insert(v, at, other.values[name]) for name, v in self.values.items()}
        return EventIndex.from_sorted(keys, values)

    def order(self, codes: np.ndarray, times: np.ndarray) -> np.ndarray | None:
        """A sorting permutation of the flattened queries (None for small batches).

        numpy's binary search resumes from its previous position, so sorted queries are
        much faster on large batches; the same permutation serves every window of the
        same codes, and any permutation gives correct results.
        """
        if np.size(codes) <= 256:
            return None
        return np.argsort(pack(codes, np.broadcast_to(times, np.shape(codes))).ravel())

    def _search(self, queries: np.ndarray, order: np.ndarray | None) -> np.ndarray:
        if order is None:
            return np.searchsorted(self.keys, queries, side="left")
        flat = queries.ravel()
        out = np.empty(flat.shape, dtype=np.intp)
        out[order] = np.searchsorted(self.keys, flat[order], side="left")
        return out.reshape(queries.shape)

    def positions(
        self, codes: np.ndarray, times: np.ndarray, order: np.ndarray | None = None
    ) -> np.ndarray:
        """Position of (code, time) among the events: the end of "events before time"."""
        pos = self._search(pack(codes, np.maximum(times, 0)), order)
        return np.where(np.asarray(codes) < 0, 0, pos)

    def starts_of(self, codes: np.ndarray) -> np.ndarray:
        """Position of each code's first event (a gather, no search); 0 for unseen codes,
        the end for codes past the last one with events."""
        codes = np.asarray(codes)
        starts = self.starts
        inside = codes < len(starts)
        found = starts[np.where(inside & (codes >= 0), codes, 0)]
        return np.where(codes < 0, 0, np.where(inside, found, len(self.keys)))

    def bounds(
        self, codes: np.ndarray, start: np.ndarray, end: np.ndarray, order: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the events of each entity with start <= time < end."""
        if order is None:
            order = self.order(codes, end)
        hi = self.positions(codes, end, order)
        if np.all(np.asarray(start) <= 0):
            lo = np.broadcast_to(self.starts_of(codes), np.shape(hi)).copy()
        else:
            lo = self.positions(codes, start, order)
        return np.minimum(lo, hi), hi

    def count(self, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds(codes, start, end)
        return (hi - lo).astype(np.float64)

    def total(self, name: str, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        prefix = self.prefix[name]
        return prefix[hi] - prefix[lo]

    def first_time(
        self, codes: np.ndarray, end: np.ndarray, order: np.ndarray | None = None
    ) -> np.ndarray:
        """Time of each entity's first event before ``end``; -1 when there is none."""
        lo, hi = self.bounds(codes, np.zeros_like(end), end, order)
        out = np.full(np.shape(lo), -1, dtype=np.int64)
        has = hi > lo
        out[has] = self.keys[lo[has]] & _TIME_MASK
        return out
