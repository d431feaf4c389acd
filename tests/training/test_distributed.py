"""``targeting train --dask``: the point-in-time matrix computed by time blocks on a
2-worker LocalCluster equals the single-process matrix; the round kept after LightGBM's
Dask training is the one early stopping keeps; a whole run on Dask registers a model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.pipeline import FeaturePipeline
from graph.pipeline_blocks import all_blocks
from models.lgbm import TreeConfig, best_round, train_trees, tree_params
from tests.training.conftest import FAST
from training.distributed import transform_blocks
from training.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    from targeting.dask_cluster import dask_client

    with dask_client("local", 2) as c:
        yield c


def test_blocks_on_workers_equal_the_single_process_matrix(
    frames: dict[str, pd.DataFrame], client: object, tmp_path: Path
) -> None:
    d = frames["declarations"].head(12_000)
    c = frames["controls"][frames["controls"]["declaration_id"].isin(d["declaration_id"])]
    pipeline = FeaturePipeline(all_blocks()).fit(d, c, frames["ens_filings"], frames["ens_items"])
    inputs = pipeline.fitted_inputs_
    whole = pipeline.transform_inputs(inputs)
    blocks = transform_blocks(client, pipeline, inputs, tmp_path, rows_per_block=2_500)
    assert blocks.shape == whole.shape == (12_000, len(pipeline.spec_.names))
    np.testing.assert_allclose(blocks, whole, rtol=1e-6, atol=1e-6)
    assert np.isnan(whole).any() == np.isnan(blocks).any()


def _toy(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3] - 2.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return x, y


def test_best_round_is_the_round_early_stopping_keeps() -> None:
    x, y = _toy(1, 6_000)
    xv, yv = _toy(2, 2_000)
    config = TreeConfig(max_rounds=300, early_stopping=15, threads=1, learning_rate=0.2)
    names = [f"f{j}" for j in range(6)]
    _, info = train_trees(x, y, np.ones(len(y)), xv, yv, names, config)
    assert 0 < info["best_iteration"] < 300  # it did stop early
    grown = lgb.train(
        tree_params(config, y), lgb.Dataset(x, y, feature_name=names), num_boost_round=300
    )
    assert best_round(grown, xv, yv, config.early_stopping) == info["best_iteration"]


def test_trees_on_dask_are_selected_like_early_stopping(client: object) -> None:
    x, y = _toy(3, 8_000)
    xv, yv = _toy(4, 2_000)
    config = TreeConfig(max_rounds=120, early_stopping=10, threads=1, learning_rate=0.2)
    names = [f"f{j}" for j in range(6)]
    booster, info = train_trees(x, y, np.ones(len(y)), xv, yv, names, config, client=client)
    assert booster.current_iteration() == info["best_iteration"] <= 120
    single, _ = train_trees(x, y, np.ones(len(y)), xv, yv, names, config)
    hits = yv > 0
    # both rank the validation hits far above chance (base rate ~0.1)
    for model in (booster, single):
        p = model.predict(xv)
        assert p[hits].mean() > 2 * p[~hits].mean()


def test_a_run_on_dask_registers_a_model(
    frames: dict[str, pd.DataFrame], client: object, tmp_path: Path
) -> None:
    result = train(frames, tmp_path / "mlruns", FAST, work_dir=tmp_path / "work", client=client)
    assert result.registered.version == "1"
    assert (result.bundle / "manifest.json").is_file()
    assert result.metrics["test_blend_recall_at_5"] > 0.2
    assert result.metrics["refit_rounds"] >= 1
