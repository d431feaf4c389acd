"""``GraphConfig``: the few parameters of the party graph, frozen and JSON-able."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

BACKENDS = ("networkx", "cugraph")


@dataclass(frozen=True)
class GraphConfig:
    """Snapshot grid, smoothing, hub threshold and algorithm settings of the graph block.

    ``hub_degree``: a party with more distinct non-carrier neighbours than this (as of a
    snapshot) is a hub; hubs are not walked through (see ``graph/README.md``).
    ``backend``: "networkx" (CPU) or "cugraph" (GPU through networkx dispatch, needs
    the nx-cugraph package; checked at fit).
    """

    period_days: int = 30
    edge_window_days: int = 365  # a pair is an edge while it has a declaration this recent
    max_distance: int = 4
    smoothing: float = 20.0
    louvain_seed: int = 0
    backend: str = "networkx"
    pagerank_alpha: float = 0.85
    hub_degree: int = 200

    def __post_init__(self) -> None:
        """Reject values that would make features meaningless, with the reason."""
        if self.period_days < 1:
            raise ValueError(f"period_days must be >= 1, got {self.period_days}")
        if self.edge_window_days < 1:
            raise ValueError(f"edge_window_days must be >= 1, got {self.edge_window_days}")
        if self.max_distance < 1:
            raise ValueError(f"max_distance must be >= 1, got {self.max_distance}")
        if self.smoothing <= 0:
            raise ValueError(f"smoothing must be > 0, got {self.smoothing}")
        if not 0 < self.pagerank_alpha < 1:
            raise ValueError(f"pagerank_alpha must lie in (0, 1), got {self.pagerank_alpha}")
        if self.hub_degree < 1:
            raise ValueError(f"hub_degree must be >= 1, got {self.hub_degree}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")

    @property
    def window_periods(self) -> int:
        """Periods an edge lasts after the period of its pair's last declaration."""
        return -(-self.edge_window_days // self.period_days)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a saved state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GraphConfig:
        """Rebuild from ``to_dict``'s output (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown GraphConfig keys {sorted(unknown)}")
        return cls(**values)
