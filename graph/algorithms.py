"""The networkx algorithms of a snapshot, run on the configured backend.

With ``backend="networkx"`` the calls are plain networkx (CPU). With ``"cugraph"``
the same calls carry ``backend="cugraph"`` and networkx dispatches them to
nx-cugraph on the GPU (PageRank, Louvain and connected components are all
implemented there); nothing else changes. The backend must be installed: checked at
fit, with an actionable message, never silently replaced by the CPU.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import networkx as nx
import numpy as np

CUGRAPH_HINT = (
    "pip install nx-cugraph-cu12 --extra-index-url https://pypi.nvidia.com"
    " (needs an NVIDIA GPU and CUDA 12)"
)


def installed_backends() -> set[str]:
    """Names of the networkx backends registered by installed packages."""
    return {ep.name for ep in entry_points(group="networkx.backends")}


def check_backend(backend: str) -> None:
    """Raise ImportError if ``backend`` is neither networkx nor an installed backend."""
    if backend == "networkx":
        return
    installed = installed_backends()
    if backend not in installed:
        found = ", ".join(sorted(installed)) or "none"
        raise ImportError(
            f"GraphConfig(backend={backend!r}) needs the nx-cugraph package, which is not"
            f" installed (networkx backends found: {found}). Install it with {CUGRAPH_HINT},"
            " or use backend='networkx'."
        )


class Algorithms:
    """PageRank, components and Louvain on one backend; results as numpy arrays."""

    def __init__(self, backend: str) -> None:
        check_backend(backend)
        self._dispatch: dict[str, Any] = {} if backend == "networkx" else {"backend": backend}

    def pagerank(
        self, graph: nx.Graph, alpha: float, personalization: dict[int, float]
    ) -> np.ndarray:
        """Personalised PageRank of nodes 0..n-1 (zeros when there is no seed)."""
        n = graph.number_of_nodes()
        if not personalization or n == 0:
            return np.zeros(n)
        rank = nx.pagerank(
            graph, alpha=alpha, personalization=personalization, weight="weight", **self._dispatch
        )
        return np.fromiter((rank[i] for i in range(n)), dtype=np.float64, count=n)

    def components(self, graph: nx.Graph) -> np.ndarray:
        """Connected-component label of nodes 0..n-1."""
        return _labels(nx.connected_components(graph, **self._dispatch), graph.number_of_nodes())

    def communities(self, graph: nx.Graph, seed: int) -> np.ndarray:
        """Louvain community label of nodes 0..n-1 (fixed seed: same graph, same answer)."""
        parts = nx.community.louvain_communities(
            graph, weight="weight", seed=seed, **self._dispatch
        )
        return _labels(parts, graph.number_of_nodes())


def _labels(parts: Any, n: int) -> np.ndarray:
    """Label array from an iterable of node sets covering 0..n-1."""
    labels = np.full(n, -1, dtype=np.int64)
    for k, part in enumerate(parts):
        labels[np.fromiter(part, dtype=np.int64, count=len(part))] = k
    if n and labels.min() < 0:
        raise RuntimeError("graph algorithm left nodes without a label")
    return labels


def build_graph(n: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> nx.Graph:
    """Undirected graph on nodes 0..n-1, nodes then edges in the given (canonical) order."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(a.tolist(), b.tolist(), weight.tolist(), strict=True))
    return graph
