"""LightGBM irregularity classifier: early stopping on validation, imbalance handled.

Categories are already numeric in the feature matrix (profiles, one-hot modes), so
nothing depends on LightGBM's pandas-category mapping and the ONNX export is exact.
Optional inverse-propensity weights (1 / selection probability, clipped) make the
training population resemble all traffic rather than the past policy's picks: they
reduce the selection bias of the labels at the cost of variance.

A model may read a subset of the feature columns: ``mask_columns`` blanks the others
(NaN) before training. LightGBM drops a column without a value at dataset
construction, so the model is the one trained on the kept columns alone (identical
predictions, tested) while the booster keeps the full width: the exported graphs and
serving's TreeSHAP take the whole feature matrix unchanged. ``refit_trees`` retrains
with a fixed number of rounds and no validation set (the refit on all labelled history).
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


def mask_columns(x: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """``x`` with the columns not in ``keep`` (bool per column) set to NaN; ``x`` itself
    when every column is kept (no copy)."""
    if keep is None or bool(np.all(keep)):
        return x
    out = np.array(x, dtype=np.float32, copy=True)
    out[:, ~np.asarray(keep, dtype=bool)] = np.nan
    return out


def tree_params(config: TreeConfig, y: np.ndarray) -> dict[str, object]:
    """LightGBM parameters of a run on labels ``y`` (positive weight from their balance)."""
    positives = float(y.sum())
    pos_weight = min((len(y) - positives) / max(positives, 1.0), config.max_pos_weight)
    return {
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


def refit_trees(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    names: list[str],
    config: TreeConfig,
    rounds: int,
    keep: np.ndarray | None = None,
    client: object | None = None,
) -> lgb.Booster:
    """Trees trained for exactly ``rounds`` rounds on the given rows (no early stopping);
    on the Dask ``client``'s workers when given."""
    if client is not None:
        return dask_trees(client, x, y, w, names, config, rounds, keep)
    data = lgb.Dataset(mask_columns(x, keep), y, weight=w, feature_name=list(names))
    return lgb.train(tree_params(config, y), data, num_boost_round=max(int(rounds), 1))


def train_trees(
    x_train: np.ndarray,
    y_train: np.ndarray,
    w_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    names: list[str],
    config: TreeConfig,
    keep: np.ndarray | None = None,
    client: object | None = None,
) -> tuple[lgb.Booster, dict[str, float]]:
    """Fit with early stopping on validation average precision, reading only the columns
    in ``keep`` (all when None). With a Dask ``client`` the trees train on the workers
    (``dask_trees``) for ``max_rounds``, and the round early stopping would keep is chosen
    on validation afterwards (LightGBM's Dask interface has no early stopping)."""
    params = tree_params(config, y_train)
    if client is not None:
        grown = dask_trees(
            client, x_train, y_train, w_train, names, config, config.max_rounds, keep
        )
        best = best_round(grown, x_valid, y_valid, config.early_stopping)
        booster = lgb.Booster(model_str=grown.model_to_string(num_iteration=best))
    else:
        train = lgb.Dataset(
            mask_columns(x_train, keep),
            y_train,
            weight=w_train,
            feature_name=list(names),
            free_raw_data=False,
        )
        valid = lgb.Dataset(
            mask_columns(x_valid, keep), y_valid, reference=train, free_raw_data=False
        )
        booster = lgb.train(
            params,
            train,
            num_boost_round=config.max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(config.early_stopping, verbose=False)],
        )
        best = booster.best_iteration
    return booster, {
        "best_iteration": float(best),
        "scale_pos_weight": float(params["scale_pos_weight"]),  # type: ignore[arg-type]
    }


def _average_precision(score: np.ndarray, y: np.ndarray) -> float:
    """Average precision of ``score`` against 0/1 ``y`` (mean precision at each hit)."""
    order = np.argsort(-score, kind="stable")
    hits = y[order] > 0
    if not hits.any():
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def best_round(
    booster: lgb.Booster, x_valid: np.ndarray, y_valid: np.ndarray, patience: int
) -> int:
    """The round early stopping would keep: the best validation average precision among the
    rounds seen until ``patience`` rounds bring no gain (read tree by tree, afterwards)."""
    raw = np.zeros(len(x_valid))
    best, best_ap = 1, -1.0
    for k in range(booster.current_iteration()):
        raw += booster.predict(x_valid, raw_score=True, start_iteration=k, num_iteration=1)
        ap = _average_precision(raw, y_valid)
        if ap > best_ap:
            best, best_ap = k + 1, ap
        elif k + 1 - best >= patience:
            break
    return best


def dask_trees(
    client: object,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    names: list[str],
    config: TreeConfig,
    rounds: int,
    keep: np.ndarray | None = None,
) -> lgb.Booster:
    """Trees trained with LightGBM's Dask interface (data-parallel: each worker builds the
    histograms of its row blocks) for ``rounds`` rounds; one row block per worker."""
    import dask.array as da
    from lightgbm.dask import DaskLGBMClassifier

    workers = max(len(client.scheduler_info(n_workers=-1)["workers"]), 1)  # type: ignore[attr-defined]
    rows = max(-(-len(y) // workers), 1)
    data = mask_columns(x, keep)
    params = {k: v for k, v in tree_params(config, y).items() if k != "num_threads"}
    model = DaskLGBMClassifier(client=client, n_estimators=max(int(rounds), 1), n_jobs=1, **params)
    model.fit(
        da.from_array(data, chunks=(rows, data.shape[1])),
        da.from_array(y, chunks=rows),
        sample_weight=da.from_array(w, chunks=rows),
        feature_name=list(names),
    )
    return model.booster_
