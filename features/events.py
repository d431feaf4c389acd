"""Time-stamped events of entities, sorted for point-in-time queries.

Each event has an entity code, a time and optional values. Keys pack (code, time) into
one int64 so that "events of entity e strictly before t" is a binary search, for one
row or a million. Prefix sums of the values give window sums in O(log n).
"""

from __future__ import annotations

import numpy as np

from features.timebase import MAX_TIME

_SHIFT = np.int64(32)


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
        self.keys = keys[order]
        self.times = times[keep][order]
        self.prefix = {
            name: np.concatenate([[0.0], np.cumsum(np.asarray(v, dtype=np.float64)[keep][order])])
            for name, v in values.items()
        }
        # First position of every code (CSR offsets): "all events before t" needs one search.
        top = int(self.keys[-1] >> _SHIFT) + 2 if len(self.keys) else 1
        self.starts = np.searchsorted(self.keys >> _SHIFT, np.arange(top, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.keys)

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
        """Position of each code's first event (a gather, no search); 0 for unseen codes."""
        codes = np.asarray(codes)
        known = (codes >= 0) & (codes < len(self.starts))
        return np.where(known, self.starts[np.where(known, codes, 0)], 0)

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
        out[has] = self.times[lo[has]]
        return out
