"""Time blocks and reference times of cross-fitted label statistics for training rows.

Training rows of the fitted history get label statistics from the results of the
*other* time blocks (time-blocked K-fold, blocks of equal row counts by lodging time),
computed as a scoring row would see them at a reference time: the end of the
label window nearest to the row that fits in the history (the history's end when the
history is no longer than the window). See ``ProfileBlock.cross_fit_transform``.
"""

from __future__ import annotations

import numpy as np


def time_blocks(times: np.ndarray, folds: int) -> np.ndarray:
    """Block (0..folds-1) of every row: ``folds`` blocks of about equal row counts in time
    order; rows with the same time share a block."""
    if folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 time blocks, got {folds}")
    times = np.asarray(times, dtype=np.int64)
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(times)
    edges = ordered[(np.arange(1, folds) * len(times)) // folds]
    return np.searchsorted(edges, times, side="right").astype(np.int64)


def reference_times(times: np.ndarray, start: int, end: int, window: int) -> np.ndarray:
    """When each row's cross-fitted statistics are read: the end of the ``window``-long
    stretch of [start, end] centred on the row, shifted to lie inside the history
    (``end`` for every row when the history is shorter than the window)."""
    centred = np.asarray(times, dtype=np.int64) + window // 2
    return np.minimum(np.maximum(centred, start + window), end)
