"""Party roles, the edges between them and the names of the block's features.

One place that says which role pairs make an edge and in which column each feature
sits, so the graph builder, the snapshot computation and the lookup tables agree.
"""

from __future__ import annotations

import numpy as np

# Roles kept per registry row (column order of ``PartyRegistry.parties``).
ROLES = ("importer", "declarant", "seller", "carrier", "consignor", "consignee")
ROLE_COLUMN = {role: i for i, role in enumerate(ROLES)}
DECLARATION_ROLES = {"importer": "importer_id", "declarant": "declarant_id", "seller": "seller_id"}
ENS_ROLES = {"carrier": "carrier_id", "consignor": "consignor_id", "consignee": "consignee_id"}

# Core edges carry risk between parties; carrier edges only count in the degrees.
CORE_PAIRS = (("importer", "declarant"), ("importer", "seller"), ("consignee", "consignor"))
CARRIER_PAIRS = (("consignor", "carrier"), ("consignee", "carrier"))
PAIRS = CORE_PAIRS + CARRIER_PAIRS

FEATURES = (
    "degree",
    "weighted_degree",
    "hit_rate_1hop",
    "hit_rate_2hop",
    "ppr",
    "component_size",
    "component_hit_rate",
    "community_size",
    "community_hit_rate",
    "offender_distance",
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}
RATE_FEATURES = ("hit_rate_1hop", "hit_rate_2hop", "component_hit_rate", "community_hit_rate")


def feature_roles(with_ens: bool) -> tuple[str, ...]:
    """Roles whose features the block outputs (the carrier only with ENS data)."""
    return (
        ("importer", "declarant", "seller", "carrier")
        if with_ens
        else ("importer", "declarant", "seller")
    )


def feature_names(with_ens: bool) -> list[str]:
    """Ordered output names, e.g. ``graph__importer__ppr``."""
    return [f"graph__{role}__{name}" for role in feature_roles(with_ens) for name in FEATURES]


def prior_row(global_rate: float, max_distance: int) -> np.ndarray:
    """Features of a party absent from a snapshot: no links, global rate, unreachable."""
    row = np.zeros(len(FEATURES), dtype=np.float32)
    for name in RATE_FEATURES:
        row[COLUMN[name]] = global_rate
    row[COLUMN["offender_distance"]] = max_distance + 1
    return row
