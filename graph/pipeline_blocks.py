"""The full set of feature blocks, features' own plus the party graph, in output order.

Training and serving both build their pipeline from here, so the two never differ.
"""

from __future__ import annotations

from features import default_blocks
from features.blocks import FeatureBlock
from features.profiles import ProfileConfig
from graph.block import GraphBlock
from graph.config import GraphConfig


def all_blocks(
    graph_config: GraphConfig | None = None, profile: ProfileConfig | None = None
) -> list[FeatureBlock]:
    """Profiles, valuation, route, AEO, then the graph block."""
    return [*default_blocks(profile), GraphBlock(graph_config)]
