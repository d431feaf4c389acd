"""LightGBM irregularity classifier: early stopping on validation, imbalance handled.

Categories are already numeric in the feature matrix (profiles, one-hot modes), so
nothing depends on LightGBM's pandas-category mapping and the ONNX export is exact.
Optional inverse-propensity weights (1 / selection probability, clipped) make the
training population resemble all traffic rather than the past policy's picks: they
reduce the selection bias of the labels at the cost of variance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class TreeConfig:
    """Hyper-parameters of the gradient-boosted trees."""

    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 600
    early_stopping: int = 50
    max_pos_weight: float = 10.0
    seed: int = 0
    threads: int = 2
    extra: dict[str, float] = field(default_factory=dict)


def ipw_weights(propensity: np.ndarray, clip: float = 50.0) -> np.ndarray:
    """Inverse-propensity weights normalised to mean 1 (clipped against tiny propensities)."""
    w = np.minimum(1.0 / np.clip(propensity, 1e-6, 1.0), clip)
    return w / w.mean()


def train_trees(
    x_train: np.ndarray,
    y_train: np.ndarray,
    w_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    config: TreeConfig,
) -> tuple[lgb.Booster, dict[str, float]]:
    """Fit with early stopping on validation average precision."""
    positives = float(y_train.sum())
    pos_weight = min((len(y_train) - positives) / max(positives, 1.0), config.max_pos_weight)
    params = {
        "objective": "binary",
        "metric": "average_precision",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": config.lambda_l2,
        "scale_pos_weight": pos_weight,
        "seed": config.seed,
        "deterministic": True,
        "num_threads": config.threads,
        "verbose": -1,
        **config.extra,
    }
    train = lgb.Dataset(
        x_train, y_train, weight=w_train, feature_name=list(names), free_raw_data=False
    )
    valid = lgb.Dataset(x_valid, y_valid, reference=train, free_raw_data=False)
    booster = lgb.train(
        params,
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False)],
    )
    return booster, {
        "best_iteration": float(booster.best_iteration),
        "scale_pos_weight": pos_weight,
    }
