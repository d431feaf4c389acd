"""A small trained world for the ONNX tests, built once per test session (cached).

Two boosters on synthetic float32 data: ``booster`` (150 trees, 31 leaves; splits of
missing_type None and NaN) and ``booster_zero`` (zero_as_missing: missing_type Zero),
a RiskNet trained for two epochs, and isotonic and Platt blends fitted on a validation
split. Test rows carry NaNs in every feature (also those that had none in training),
zeros, -0.0, values at and around +-1e-35 (LightGBM's zero threshold) and values
exactly at, just below and just above the model's split thresholds in float32.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from models.blend import Blend, fit_calibrator
from models.export import export_scorer
from models.network import RiskNet
from models.train_network import NetworkConfig, NetworkData, predict_network, train_network

N_FEATURES = 12
EPS32 = np.finfo(np.float32).eps
CARDINALITY = 64
SMEARING = 1.8


def features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training-like rows and labels: NaNs, zeros, integers, adjacent float32 values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    x[:, 1] = rng.integers(0, 6, n)  # integer-valued
    step = rng.integers(0, 40, n)  # clusters of adjacent float32 values at 1, 2, 4, 8
    x[:, 2] = (2.0 ** rng.integers(0, 4, n) * (1 + step * EPS32)).astype(np.float32)
    x[:, 3] = np.where(rng.random(n) < 0.3, 0, x[:, 3])  # many zeros
    x[:, 4] = rng.lognormal(8, 2, n).astype(np.float32)  # large magnitudes
    x[rng.random(n) < 0.1, 0] = np.nan  # NaN in training: missing_type NaN
    x[rng.random(n) < 0.05, 3] = np.nan
    logit = (
        (np.nan_to_num(x[:, 0], nan=1.0) > 0.2) * 1.5
        + (x[:, 1] > 2)
        - (step > 20)
        + np.nan_to_num(x[:, 3])
        + 0.5 * x[:, 5]
        - 0.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


def thresholds(booster: lgb.Booster) -> dict[int, list[float]]:
    """Split thresholds per feature."""
    out: dict[int, list[float]] = {}

    def walk(node: dict) -> None:
        if "split_feature" in node:
            out.setdefault(node["split_feature"], []).append(node["threshold"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return out


def hard_rows(n: int, seed: int, boosters: list[lgb.Booster], inf: bool = True) -> np.ndarray:
    """Test rows full of the cases where a conversion goes wrong."""
    x, _ = features(n, seed)
    rng = np.random.default_rng(seed + 100)
    for value, share in (
        (np.nan, 0.05),
        (0.0, 0.03),
        (-0.0, 0.02),
        (1e-36, 0.01),
        (-1e-36, 0.01),
        (1e-35, 0.01),
        (-1e-35, 0.01),
    ):
        x[rng.random(x.shape) < share] = np.float32(value)
    if inf:
        x[rng.random(x.shape) < 0.005] = np.float32(np.inf)
        x[rng.random(x.shape) < 0.005] = np.float32(-np.inf)
    for booster in boosters:  # values at the thresholds as float32 sees them
        for feature, ts in thresholds(booster).items():
            t = np.asarray(ts, dtype=np.float64)
            with np.errstate(over="ignore"):
                near = t.astype(np.float32)
            candidates = np.concatenate(
                [
                    near,
                    np.nextafter(near, np.float32(np.inf)),
                    np.nextafter(near, np.float32(-np.inf)),
                ]
            )
            candidates = candidates[np.isfinite(candidates)]
            rows = rng.random(n) < 0.1
            x[rows, feature] = rng.choice(candidates, rows.sum())
    return x


@dataclass
class World:
    """Everything the ONNX tests compare against."""

    booster: lgb.Booster
    booster_zero: lgb.Booster
    net: RiskNet
    blends: dict[str, Blend]
    rows: np.ndarray  # 10,000 hard rows with +-inf (trees only)
    rows_finite: np.ndarray  # 10,000 hard rows without inf (the network's inputs)
    codes: np.ndarray


def _codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, CARDINALITY, (n, 5))


def _network_data(x: np.ndarray, y: np.ndarray, codes: np.ndarray, seed: int) -> NetworkData:
    rng = np.random.default_rng(seed)
    revenue = np.where(y > 0, rng.lognormal(6, 1, len(y)), 0.0)
    risk = np.where(y > 0, rng.integers(0, 3, len(y)), -1)
    return NetworkData(x, codes, y.astype(np.float32), revenue, risk, np.ones(len(y)))


@functools.cache
def world() -> World:
    """Train once per session (about 3 s)."""
    x, y = features(20_000, 0)
    params = {
        "objective": "binary",
        "num_leaves": 31,
        "min_data_in_leaf": 5,
        "verbose": -1,
        "num_threads": 2,
        "deterministic": True,
    }
    booster = lgb.train(params, lgb.Dataset(x, y), 150)
    booster_zero = lgb.train({**params, "zero_as_missing": True}, lgb.Dataset(x, y), 60)
    xv, yv = features(10_000, 1)
    cv = _codes(len(xv), 1)
    net, _ = train_network(
        _network_data(x, y, _codes(len(x), 0), 0),
        _network_data(xv, yv, cv, 1),
        [CARDINALITY] * 5,
        3,
        NetworkConfig(epochs=2, batch_size=1024, seed=0),
    )
    p_trees, p_net = booster.predict(xv), predict_network(net, xv, cv)["p"]
    raw = 0.6 * p_trees + 0.4 * p_net
    blends = {  # a smearing factor != 1, so the graphs must carry it
        kind: Blend(0.6, fit_calibrator(raw, yv, kind), revenue_smearing=SMEARING)
        for kind in ("isotonic", "platt")
    }
    both = [booster, booster_zero]
    return World(
        booster,
        booster_zero,
        net,
        blends,
        hard_rows(10_000, 2, both),
        hard_rows(10_000, 3, both, inf=False),
        _codes(10_000, 3),
    )


@functools.cache
def bundle(kind: str) -> dict[str, Path]:
    """export_scorer's files for the isotonic or Platt blend, in a session temp dir."""
    w = world()
    directory = Path(tempfile.mkdtemp(prefix=f"onnx_{kind}_"))
    atexit.register(shutil.rmtree, directory, True)
    return export_scorer(w.booster, w.net, w.blends[kind], N_FEATURES, directory)
