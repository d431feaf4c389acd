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


def partner_spells(
    owner: np.ndarray, pair: np.ndarray, times: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner code, spell start, spell end) of every activity spell of every pair.

    ``owner`` and ``pair`` are codes per declaration (-1 missing), ``times`` in seconds;
    a spell ends ``window`` seconds after its last declaration.
    """
    ok = np.asarray(pair) >= 0
    p, t, o = np.asarray(pair)[ok], np.asarray(times, dtype=np.int64)[ok], np.asarray(owner)[ok]
    order = np.lexsort((t, p))
    p, t, o = p[order], t[order], o[order]
    if len(p) == 0:
        return o, t, t
    starts = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (t[1:] - t[:-1] > window)])
    last = np.r_[starts[1:], len(p)] - 1
    return o[starts], t[starts], t[last] + window
