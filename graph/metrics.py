"""Neighbourhood arithmetic on pair lists: sums over neighbours, smoothed rates, distances.

Everything is a ``bincount`` over the (canonically ordered) pair arrays, so sums come
out in the same order, hence bit for bit the same, whenever the snapshot is the same.
"""

from __future__ import annotations

import numpy as np


def degree(n: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Number of incident pairs (or their total weight) of each node."""
    return np.bincount(a, weights=weight, minlength=n) + np.bincount(b, weights=weight, minlength=n)


def gather(n: int, a: np.ndarray, b: np.ndarray, to_a: np.ndarray, to_b: np.ndarray) -> np.ndarray:
    """Sum, per node, of what each incident pair sends to it (``to_a`` to ``a``...)."""
    return np.bincount(a, weights=to_a, minlength=n) + np.bincount(b, weights=to_b, minlength=n)


def neighbour_sum(n: int, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over each node's neighbours (adjacency times ``x``)."""
    return gather(n, a, b, x[b], x[a])


def smoothed_rate(
    hits: np.ndarray, controls: np.ndarray, prior: float, strength: float
) -> np.ndarray:
    """Hit rate pulled toward ``prior`` with ``strength`` pseudo-controls."""
    return (hits + strength * prior) / (controls + strength)


def group_features(
    labels: np.ndarray, hits: np.ndarray, controls: np.ndarray, prior: float, strength: float
) -> tuple[np.ndarray, np.ndarray]:
    """log1p(size) of each node's group, and the smoothed rate of the *other* members."""
    size = np.bincount(labels)[labels].astype(np.float64)
    group_hits = np.bincount(labels, weights=hits)[labels] - hits
    group_controls = np.bincount(labels, weights=controls)[labels] - controls
    return np.log1p(size), smoothed_rate(group_hits, group_controls, prior, strength)


def offender_distance(
    n: int, a: np.ndarray, b: np.ndarray, seeds: np.ndarray, cap: int
) -> np.ndarray:
    """Hops from each node to the nearest seed, ``cap + 1`` beyond ``cap`` (multi-source BFS)."""
    dist = np.full(n, cap + 1, dtype=np.int64)
    dist[seeds] = 0
    frontier = seeds.copy()
    for hop in range(1, cap + 1):
        reached = np.zeros(n, dtype=bool)
        reached[b[frontier[a]]] = True
        reached[a[frontier[b]]] = True
        frontier = reached & (dist > hop)
        if not frontier.any():
            break
        dist[frontier] = hop
    return dist


def reach_hubs(
    dist: np.ndarray, a: np.ndarray, b: np.ndarray, hub: np.ndarray, cap: int
) -> np.ndarray:
    """Distances where hubs are reached from their neighbours but lead nowhere further."""
    out = dist.copy()
    into_a = hub[a] & ~hub[b]
    into_b = hub[b] & ~hub[a]
    np.minimum.at(out, a[into_a], dist[b[into_a]] + 1)
    np.minimum.at(out, b[into_b], dist[a[into_b]] + 1)
    return np.minimum(out, cap + 1)
