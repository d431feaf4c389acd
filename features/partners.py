"""Distinct partners active in a trailing window, as two counts of events.

A pair (importer x seller...) is active at time t when it has a declaration in
[t - window, t). Each declaration keeps the pair active on (e, e + window]; merging
declarations less than a window apart gives the pair's activity spells (s, last +
window]. At most one spell of a pair covers any t, so the distinct partners of an
entity active at t = (spells started before t) - (spells ended before t): two
point-in-time counts that the event index answers with binary searches.
"""

from __future__ import annotations

import numpy as np


def pair_spells(
    pair: np.ndarray, times: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair code, first row, last row) of every activity spell of every pair, ordered by
    pair then time (rows of equal time in registry order).

    ``pair`` holds codes per declaration (-1 missing), ``times`` seconds; a spell ends
    ``window`` seconds after its last declaration.
    """
    rows = np.flatnonzero(np.asarray(pair) >= 0)
    p, t = np.asarray(pair)[rows], np.asarray(times, dtype=np.int64)[rows]
    order = np.lexsort((t, p))
    p, t, rows = p[order], t[order], rows[order]
    if len(p) == 0:
        return p, rows, rows
    starts = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (t[1:] - t[:-1] > window)])
    last = np.r_[starts[1:], len(p)] - 1
    return p[starts], rows[starts], rows[last]


def partner_spells(
    owner: np.ndarray, pair: np.ndarray, times: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner code, spell start, spell end) of every activity spell of every pair.

    ``owner`` and ``pair`` are codes per declaration (-1 missing), ``times`` in seconds;
    a spell ends ``window`` seconds after its last declaration.
    """
    _, first, last = pair_spells(pair, times, window)
    t = np.asarray(times, dtype=np.int64)
    return np.asarray(owner)[first], t[first], t[last] + window
