"""Refit after selection: the chosen trees (and network, when it has weight) retrained on
all labelled history, every result as known at the end.

The model that was evaluated is trained on the train window only and early-stopped on
validation; once the test window has measured it, the labels of validation and test
are the most recent facts there are, and leaving them out costs the service what moved
last. The refit has no held-out rows left: its boosting rounds are the early-stopped
count scaled by the ratio of rows, the network runs its early-stopped number of epochs,
the blend weight and calibration stay those chosen on validation, and the reported test
metrics stay those of the evaluated model (the run and the manifest say so).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np

from models.blend import Blend, smearing_factor
from models.lgbm import TreeConfig, refit_trees
from models.network import RiskNet
from models.train_network import NetworkConfig, NetworkData, predict_network, train_network


@dataclass(frozen=True)
class Models:
    """Trees, network and blend: what the scorer graphs are exported from."""

    booster: lgb.Booster
    net: RiskNet
    blend: Blend


def refit_rounds(best_iteration: int, rows_all: int, rows_train: int) -> int:
    """Early-stopped rounds scaled by the ratio of rows (at least one)."""
    return max(1, round(best_iteration * rows_all / max(rows_train, 1)))


def refit_models(
    evaluated: Models,
    data: NetworkData,
    names: list[str],
    keep: np.ndarray,
    rows_train: int,
    network_epochs: int,
    cardinalities: list[int],
    n_risk_types: int,
    tree: TreeConfig,
    network: NetworkConfig,
    client: Any = None,
) -> tuple[Models, dict[str, float]]:
    """The evaluated models refitted on ``data`` (every labelled row): trees always, the
    network (and the revenue smearing with it) only when the blend gives it weight."""
    best = evaluated.booster.best_iteration or evaluated.booster.current_iteration()
    rounds = refit_rounds(best, len(data.y), rows_train)
    booster = refit_trees(data.features, data.y, data.weight, names, tree, rounds, keep, client)
    net, blend = evaluated.net, evaluated.blend
    refit_network = evaluated.blend.weight < 1.0
    if refit_network:
        epochs = max(int(network_epochs), 1)
        net, _ = train_network(
            data, None, cardinalities, n_risk_types, replace(network, epochs=epochs), keep
        )
        hits = data.y > 0
        log_revenue = predict_network(net, data.features[hits], data.codes[hits])["log_revenue"]
        blend = replace(blend, revenue_smearing=smearing_factor(log_revenue, data.revenue[hits]))
    info = {
        "refit_rows": float(len(data.y)),
        "refit_positives": float(data.y.sum()),
        "refit_rounds": float(rounds),
        "refit_network": float(refit_network),
    }
    return Models(booster, net, blend), info
