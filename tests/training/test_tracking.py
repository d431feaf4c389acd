"""What a run records in MLflow reads back whole: the config, every hyper-parameter."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from models.lgbm import TreeConfig
from tests.training.conftest import FAST
from training.tracking import CONFIG_ARTIFACT, PARAMS_ARTIFACT, flatten, log_run
from training.train import TrainResult


def _run(mlruns: Path, run_id: str) -> tuple[dict[str, str], dict[str, str], dict, dict]:
    """Params, tags, config artifact and params artifact of a run, through the client."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{(mlruns / 'mlflow.db').resolve()}")
    run = mlflow.MlflowClient().get_run(run_id)
    uri = run.info.artifact_uri
    config = mlflow.artifacts.load_dict(f"{uri}/{CONFIG_ARTIFACT}")
    params = mlflow.artifacts.load_dict(f"{uri}/{PARAMS_ARTIFACT}")
    return run.data.params, run.data.tags, config, params


def test_flatten_joins_nested_keys_with_dots() -> None:
    nested = {"a": 1, "tree": {"lr": 0.1, "extra": {"x": 2}, "none": {}}}
    assert flatten(nested) == {"a": 1, "tree.lr": 0.1, "tree.extra.x": 2, "tree.none": {}}


def test_long_config_round_trips_and_nothing_is_truncated(tmp_path: Path) -> None:
    """A config whose JSON is far over 500 characters; a param over MLflow's own limit."""
    config = asdict(replace(FAST, tree=TreeConfig(extra={f"k{i}": i / 7 for i in range(60)})))
    assert len(json.dumps(config)) > 1500
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    huge = "x" * 7000
    registered = log_run(
        tmp_path / "mlruns", {"note": "short", "huge": huge}, {"m": 1.0}, [], bundle, {}, config
    )
    params, tags, logged_config, all_params = _run(tmp_path / "mlruns", registered.run_id)
    assert logged_config == config
    assert params["tree.extra.k59"] == str(59 / 7)
    assert params["network.epochs"] == str(FAST.network.epochs)
    assert params["valid_share"] == str(FAST.valid_share)
    assert params["note"] == "short"
    assert "huge" not in params  # too long for an MLflow param: not cut, kept whole below
    assert all_params["huge"] == huge
    assert tags["params_in_artifact_only"] == "huge"
    for key, value in params.items():
        assert all_params[key] == value


def test_training_run_logs_its_config(trained: tuple[TrainResult, Path]) -> None:
    result, mlruns = trained
    params, _, config, _ = _run(mlruns, result.registered.run_id)
    assert config == asdict(FAST)
    assert params["tree.max_rounds"] == str(FAST.tree.max_rounds)
    assert params["calibration"] == FAST.calibration
    assert "config" not in params  # no JSON blob to cut: the artifact holds it
