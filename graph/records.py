"""``ControlLedger``: control results spread onto the parties and pairs of their declaration.

A party's record counts the controls (and hits) of every declaration it took part in,
in any role, once per declaration; a pair's record counts those of the declarations
that linked the pair. ``at(cut_off)`` sums the results known strictly before the
cut-off (a result is known at its control time, never before its declaration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph.edges import EdgeTable
from graph.registry import PartyRegistry


@dataclass(frozen=True)
class Records:
    """Control records as of one cut-off, for the nodes and pairs of that snapshot."""

    hits: np.ndarray  # per node
    controls: np.ndarray
    pair_hits: np.ndarray  # per pair
    pair_controls: np.ndarray
    global_rate: float  # hits / controls over all declarations; 0 before any control


@dataclass(frozen=True)
class ControlLedger:
    """Control events expanded to (node, time, hit) and (pair, time, hit)."""

    time: np.ndarray
    hit: np.ndarray
    party_node: np.ndarray
    party_time: np.ndarray
    party_hit: np.ndarray
    pair_index: np.ndarray
    pair_time: np.ndarray
    pair_hit: np.ndarray

    @classmethod
    def build(cls, registry: PartyRegistry, edges: EdgeTable) -> ControlLedger:
        """Expand every control event of the registry."""
        rows = registry.control_row
        known = registry.control_known_at()
        hit = registry.control_hit
        parties = registry.parties[rows].astype(np.int64)
        for j in range(1, parties.shape[1]):  # a party counts once per declaration
            for i in range(j):
                parties[parties[:, j] == parties[:, i], j] = -1
        event, column = np.nonzero(parties >= 0)
        node = edges.node_of_code(len(registry.vocab))[parties[event, column]]
        linked = node >= 0
        event = event[linked]
        lo = np.searchsorted(edges.entry_row, rows, side="left")
        hi = np.searchsorted(edges.entry_row, rows, side="right")
        counts = hi - lo
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        entries = np.repeat(lo, counts) + offsets
        pair_event = np.repeat(np.arange(len(rows)), counts)
        return cls(
            time=known,
            hit=hit,
            party_node=node[linked],
            party_time=known[event],
            party_hit=hit[event],
            pair_index=edges.entry_pair[entries],
            pair_time=known[pair_event],
            pair_hit=hit[pair_event],
        )

    def at(self, cut_off: int, n_nodes: int, n_pairs: int) -> Records:
        """Records from the results known strictly before ``cut_off``."""
        seen = self.time < cut_off
        n_seen = int(seen.sum())
        rate = float(self.hit[seen].sum() / n_seen) if n_seen else 0.0
        p = (self.party_time < cut_off) & (self.party_node < n_nodes)
        e = (self.pair_time < cut_off) & (self.pair_index < n_pairs)
        return Records(
            hits=np.bincount(self.party_node[p], weights=self.party_hit[p], minlength=n_nodes),
            controls=np.bincount(self.party_node[p], minlength=n_nodes).astype(np.float64),
            pair_hits=np.bincount(self.pair_index[e], weights=self.pair_hit[e], minlength=n_pairs),
            pair_controls=np.bincount(self.pair_index[e], minlength=n_pairs).astype(np.float64),
            global_rate=rate,
        )
