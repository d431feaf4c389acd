"""``EdgeTable``: every party pair ever linked, in a canonical order, with counts per period.

Edges are aggregated once, vectorised: each row yields up to five role pairs
(``schema.PAIRS``), deduplicated within the row so that a pair linked twice by one
declaration (importer-seller and consignee-consignor) counts one declaration. A pair
is *core* if any of its declarations links it through a core role pair.

Canonical order: pairs sorted by the period they were first seen, then by the sorted
id strings of their two parties; node indices follow first appearance in that stream.
The snapshot of period ``p`` is then a prefix (pairs first seen before ``p``, nodes
met by them), and it is laid out the same way whatever the history it was fitted on
or the order party codes were handed out: the networkx graphs, PageRank and Louvain
of a snapshot are bit-for-bit reproducible, which the point-in-time and update
equalities rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.timebase import period_of
from graph.registry import PartyRegistry
from graph.schema import CORE_PAIRS, PAIRS, ROLE_COLUMN


@dataclass(frozen=True)
class SnapshotEdges:
    """The graph as of one cut-off, in node-index space (nodes 0..n-1)."""

    n_nodes: int
    a: np.ndarray  # int64 endpoints of every pair seen, canonical order
    b: np.ndarray
    weight_all: np.ndarray  # declarations linking the pair (any role pair)
    weight_core: np.ndarray  # declarations linking it through a core role pair

    @property
    def active(self) -> np.ndarray:
        """Pairs with a declaration in the window: the edges."""
        return self.weight_all > 0


@dataclass(frozen=True)
class EdgeTable:
    """All pairs with first-seen periods and per-period counts; per-row pair entries."""

    pair_a: np.ndarray  # node index of each pair's endpoints (canonical pair order)
    pair_b: np.ndarray
    pair_first_period: np.ndarray  # non-decreasing
    node_code: np.ndarray  # party code of each node index
    node_first_slot: np.ndarray  # sorted position of each node's first appearance
    count_pair: np.ndarray  # (pair, period) groups: pair index, period, counts
    count_period: np.ndarray
    count_all: np.ndarray
    count_core: np.ndarray
    entry_row: np.ndarray  # (row, pair) entries sorted by row, for control attribution
    entry_pair: np.ndarray

    @property
    def n_pairs(self) -> int:
        """Number of distinct pairs ever linked."""
        return len(self.pair_a)

    def node_of_code(self, n_codes: int) -> np.ndarray:
        """Node index of each party code; -1 for parties never linked."""
        out = np.full(n_codes, -1, dtype=np.int64)
        out[self.node_code] = np.arange(len(self.node_code))
        return out

    def changes(self, period: int, window: int) -> bool:
        """Whether the snapshot of ``period`` differs from the one before in its pairs or
        their counts: a declaration of ``period - 1`` links a pair, or one of the
        period leaving the window did."""
        return bool(
            np.any((self.count_period == period - 1) | (self.count_period == period - 1 - window))
        )

    def at(self, period: int, window: int) -> SnapshotEdges:
        """Pairs first seen before ``period`` with their counts over the ``window``
        periods before it: a pair without a declaration there keeps its place in the
        canonical order with weight 0, and is no edge (``active``)."""
        k = int(np.searchsorted(self.pair_first_period, period, side="left"))
        n = int(np.searchsorted(self.node_first_slot, 2 * k, side="left"))
        before = (self.count_period < period) & (self.count_period >= period - window)
        pairs = self.count_pair[before]
        weight_all = np.bincount(pairs, weights=self.count_all[before], minlength=k)
        weight_core = np.bincount(pairs, weights=self.count_core[before], minlength=k)
        return SnapshotEdges(n, self.pair_a[:k], self.pair_b[:k], weight_all, weight_core)

    @classmethod
    def empty(cls) -> EdgeTable:
        """A table without pairs."""
        i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(i, i, i, i, i, i, i, f, f, i, i)

    @classmethod
    def build(cls, registry: PartyRegistry, period_days: int) -> EdgeTable:
        """Aggregate the pairs of every registry row."""
        rank = registry.string_rank()
        n_codes = len(rank)
        if n_codes == 0:
            return cls.empty()
        parties = registry.parties
        keys = np.full((registry.n_rows, len(PAIRS)), -1, dtype=np.int64)
        for j, (x, y) in enumerate(PAIRS):
            u = parties[:, ROLE_COLUMN[x]].astype(np.int64)
            v = parties[:, ROLE_COLUMN[y]].astype(np.int64)
            ok = (u >= 0) & (v >= 0) & (u != v)
            ru, rv = rank[np.maximum(u, 0)], rank[np.maximum(v, 0)]
            keys[:, j] = np.where(ok, np.minimum(ru, rv) * n_codes + np.maximum(ru, rv), -1)
        for j in range(1, len(PAIRS)):  # one entry per pair and row; core pairs come first
            for i in range(j):
                keys[keys[:, j] == keys[:, i], j] = -1
        entry_row, column = np.nonzero(keys >= 0)
        entry_key = keys[entry_row, column]
        entry_core = (column < len(CORE_PAIRS)).astype(np.float64)
        entry_period = period_of(registry.time[entry_row], period_days)

        if len(entry_key) == 0:
            return cls.empty()
        pair_keys, pid = np.unique(entry_key, return_inverse=True)
        p0 = int(entry_period.min())
        span = int(entry_period.max()) - p0 + 1
        groups, gid = np.unique(pid * span + (entry_period - p0), return_inverse=True)
        count_all = np.bincount(gid, minlength=len(groups)).astype(np.float64)
        count_core = np.bincount(gid, weights=entry_core, minlength=len(groups))
        group_pid = groups // span
        group_period = groups % span + p0
        first = np.r_[0, np.flatnonzero(np.diff(group_pid)) + 1]
        first_period = group_period[first]  # groups are sorted by (pair, period)

        order = np.lexsort((pair_keys, first_period))  # canonical: period, then id strings
        canon = np.empty(len(order), dtype=np.int64)
        canon[order] = np.arange(len(order))
        code_of_rank = np.argsort(rank)
        ends = np.column_stack([pair_keys[order] // n_codes, pair_keys[order] % n_codes])
        stream = code_of_rank[ends].ravel()
        codes, first_slot = np.unique(stream, return_index=True)
        by_slot = np.argsort(first_slot)
        node_code = codes[by_slot]
        node_of = np.full(n_codes, -1, dtype=np.int64)
        node_of[node_code] = np.arange(len(node_code))
        nodes = node_of[stream].reshape(-1, 2)
        return cls(
            pair_a=nodes[:, 0],
            pair_b=nodes[:, 1],
            pair_first_period=first_period[order],
            node_code=node_code,
            node_first_slot=first_slot[by_slot],
            count_pair=canon[group_pid],
            count_period=group_period,
            count_all=count_all,
            count_core=count_core,
            entry_row=entry_row.astype(np.int64),
            entry_pair=canon[pid],
        )
