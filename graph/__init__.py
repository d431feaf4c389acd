"""Party-network features: importers, declarants, sellers, consignors, consignees and
carriers linked by their declarations, snapshotted on the feature time grid.

``GraphBlock`` is the ``features.blocks.FeatureBlock``; ``GraphConfig`` its parameters.
Design (carriers and hubs, own hits, time grid, backend): ``graph/README.md``.
"""

from graph.block import GraphBlock
from graph.config import GraphConfig

__all__ = ["GraphBlock", "GraphConfig"]
