"""Features of every party node of one snapshot (the graph as of one cut-off).

Hubs distort neighbourhoods: a carrier or a big broker links everyone, so paths through
it would put every party two hops from an offender, glue all parties into one component
and funnel PageRank and Louvain into a few stars. Hence carrier edges only count in the
degrees, and *hubs* (more than ``hub_degree`` distinct core neighbours) are never walked
through. Three views of the snapshot's pairs:

* all pairs (carrier edges included): ``degree`` and ``weighted_degree``;
* core pairs (no carrier edges): ``hit_rate_1hop``, with hub neighbours down-weighted;
* the *walk graph*: core pairs not touching a hub. ``hit_rate_2hop``, PageRank,
  offender distance, components and Louvain communities run on it (hubs are nodes
  without edges there; the distance still reaches a hub from its neighbours).

``Structure`` is what depends on the pairs alone (the networkx graph, components,
communities); a snapshot whose period added no declaration shares its predecessor's,
since only control results changed (late results and audits extend the grid past
the last declaration).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from graph import metrics
from graph.algorithms import Algorithms, build_graph
from graph.communities import louvain_labels
from graph.config import GraphConfig
from graph.edges import SnapshotEdges
from graph.records import Records
from graph.schema import COLUMN, FEATURES


@dataclass(frozen=True)
class Structure:
    """The record-independent part of a snapshot."""

    edges: SnapshotEdges
    core_a: np.ndarray
    core_b: np.ndarray
    core_pairs: np.ndarray  # indices of the core pairs among all pairs
    hub: np.ndarray  # bool per node
    damp: np.ndarray  # weight of a node's record in its neighbours' 1-hop pools
    walk_a: np.ndarray
    walk_b: np.ndarray
    graph: nx.Graph
    components: np.ndarray
    communities: np.ndarray


def structure(edges: SnapshotEdges, config: GraphConfig, algorithms: Algorithms) -> Structure:
    """Core and walk views, networkx graph, components and Louvain communities."""
    n, a, b = edges.n_nodes, edges.a, edges.b
    core_pairs = np.flatnonzero(edges.weight_core > 0)
    ca, cb = a[core_pairs], b[core_pairs]
    core_degree = metrics.degree(n, ca, cb)
    hub = core_degree > config.hub_degree
    walk = ~hub[ca] & ~hub[cb]
    wa, wb, ww = ca[walk], cb[walk], edges.weight_core[core_pairs][walk]
    graph = build_graph(n, wa, wb, ww)
    return Structure(
        edges=edges,
        core_a=ca,
        core_b=cb,
        core_pairs=core_pairs,
        hub=hub,
        damp=np.minimum(1.0, config.hub_degree / np.maximum(core_degree, 1.0)),
        walk_a=wa,
        walk_b=wb,
        graph=graph,
        components=algorithms.components(graph),
        communities=louvain_labels(n, wa, wb, ww, algorithms, config.louvain_seed),
    )


def snapshot_features(
    s: Structure, records: Records, config: GraphConfig, algorithms: Algorithms
) -> np.ndarray:
    """float32 matrix (nodes, FEATURES) of one snapshot."""
    e = s.edges
    n, a, b = e.n_nodes, e.a, e.b
    h, c, g, m = records.hits, records.controls, records.global_rate, config.smoothing
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    on = e.active
    out[:, COLUMN["degree"]] = metrics.degree(n, a[on], b[on])
    out[:, COLUMN["weighted_degree"]] = np.log1p(metrics.degree(n, a, b, e.weight_all))

    # 1 hop: neighbours' records without the declarations on the edge itself (v's own).
    ca, cb, damp = s.core_a, s.core_b, s.damp
    ph, pc = records.pair_hits[s.core_pairs], records.pair_controls[s.core_pairs]
    hits1 = metrics.gather(n, ca, cb, damp[cb] * (h[cb] - ph), damp[ca] * (h[ca] - ph))
    ctrl1 = metrics.gather(n, ca, cb, damp[cb] * (c[cb] - pc), damp[ca] * (c[ca] - pc))
    out[:, COLUMN["hit_rate_1hop"]] = metrics.smoothed_rate(hits1, ctrl1, g, m)

    # 2 hops: walks v-u-w on the walk graph, w != v, counted with multiplicity.
    wa, wb = s.walk_a, s.walk_b
    walk_degree = metrics.degree(n, wa, wb)
    hits2 = metrics.neighbour_sum(n, wa, wb, metrics.neighbour_sum(n, wa, wb, h)) - walk_degree * h
    ctrl2 = metrics.neighbour_sum(n, wa, wb, metrics.neighbour_sum(n, wa, wb, c)) - walk_degree * c
    out[:, COLUMN["hit_rate_2hop"]] = metrics.smoothed_rate(hits2, ctrl2, g, m)

    offender = h > 0
    dist = metrics.offender_distance(n, wa, wb, offender, config.max_distance)
    out[:, COLUMN["offender_distance"]] = metrics.reach_hubs(
        dist, ca, cb, s.hub, config.max_distance
    )

    seeds = np.flatnonzero(offender & ~s.hub)
    personal = dict(zip(seeds.tolist(), h[seeds].tolist(), strict=True))
    rank = algorithms.pagerank(s.graph, config.pagerank_alpha, personal)
    out[:, COLUMN["ppr"]] = np.log1p(n * rank)
    size, rate = metrics.group_features(s.components, h, c, g, m)
    out[:, COLUMN["component_size"]], out[:, COLUMN["component_hit_rate"]] = size, rate
    size, rate = metrics.group_features(s.communities, h, c, g, m)
    out[:, COLUMN["community_size"]], out[:, COLUMN["community_hit_rate"]] = size, rate
    return out.astype(np.float32)
