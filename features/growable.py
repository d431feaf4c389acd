"""Append-only arrays with room to grow, so that folding new facts into a state costs
the size of the new facts, not of the state.

A block keeps its per-row arrays as plain attributes (``self.time_``), which
``get_state`` saves and ``set_state`` replaces as it likes; ``Buffers.extend`` returns
the longer array as a view of a buffer with spare capacity (doubling), so an append
copies only the new rows. The buffer is reused only when the array handed in is the
very view it returned last time: an array set from elsewhere (``set_state``, a test)
or a stale view held by a shallow copy of the block starts a fresh buffer instead of
writing over someone else's rows.
"""

from __future__ import annotations

import numpy as np

MIN_CAPACITY = 64


class Buffers:
    """Capacity-doubling storage behind a block's append-only array attributes."""

    def __init__(self) -> None:
        self._buffer: dict[str, np.ndarray] = {}
        self._view: dict[str, np.ndarray] = {}

    def extend(self, key: str, current: np.ndarray, extra: np.ndarray) -> np.ndarray:
        """``current`` followed by ``extra`` (along the first axis); amortised O(len(extra))."""
        n, m = len(current), len(extra)
        buffer = self._buffer.get(key)
        reusable = (
            buffer is not None
            and self._view.get(key) is current
            and len(buffer) >= n + m
            and buffer.shape[1:] == current.shape[1:]
            and buffer.dtype == current.dtype
        )
        if not reusable:
            capacity = max(MIN_CAPACITY, 2 * (n + m))
            buffer = np.empty((capacity, *current.shape[1:]), dtype=current.dtype)
            buffer[:n] = current
            self._buffer[key] = buffer
        assert buffer is not None
        buffer[n : n + m] = extra
        view = buffer[: n + m]
        self._view[key] = view
        return view
