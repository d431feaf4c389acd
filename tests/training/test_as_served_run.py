"""What a training run reports and registers: as-served headline, live figures beside it,
per-month and PSI tables, group selection, the refit and its note."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest

from models.bundle import read_bundle
from training.evaluate import summary_line
from training.groups import group_of, model_groups
from training.refit import refit_rounds
from training.train import TrainResult


def _run(mlruns: Path, run_id: str) -> tuple[dict[str, str], dict[str, str], Path]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{(mlruns / 'mlflow.db').resolve()}")
    run = mlflow.MlflowClient().get_run(run_id)
    local = Path(mlflow.artifacts.download_artifacts(run.info.artifact_uri, dst_path=str(mlruns)))
    return run.data.params, run.data.tags, local


@pytest.fixture(scope="module")
def logged(trained: tuple[TrainResult, Path]) -> tuple[dict[str, str], dict[str, str], Path]:
    result, mlruns = trained
    return _run(mlruns, result.registered.run_id)


def test_headline_is_as_served_and_live_figures_are_kept_apart(trained) -> None:
    result, _ = trained
    m = result.metrics
    manifest = read_bundle(result.bundle).manifest
    headline = {k: v for k, v in m.items() if k.startswith("test_blend_")}
    assert manifest["test_metrics"] == pytest.approx(headline, nan_ok=True)
    assert manifest["evaluation"]["features"].startswith("as served")
    for key in ("precision_at_1", "precision_at_5", "precision_at_10", "recall_at_5"):
        assert f"test_live_blend_{key}" in m
        assert f"test_live_lgbm_{key}" in m
    line = summary_line(m)
    assert line.startswith(f"precision@5% {m['test_blend_precision_at_5']:.3f}")
    live = m["test_live_blend_precision_at_5"]
    assert f"live-label features (not as served) precision@5% {live:.3f}" in line
    assert "predicted" in line
    assert "95% interval" in line
    # the estimate on all test-window traffic, weighted by 1 / propensity, with its interval
    for name in ("precision", "recall", "revenue"):
        key = f"test_blend_ips_{name}_at_5"
        assert m[f"{key}_low"] <= m[key] <= m[f"{key}_high"]
    assert m["test_blend_ips_controls"] == m["rows_test"]
    assert "on all traffic (inverse propensity weighting" in line
    assert "what controls would find" in line


def test_per_month_metrics_and_psi_are_logged(trained, logged) -> None:
    result, _ = trained
    m = result.metrics
    _, _, artifacts = logged
    by_month = pd.read_csv(artifacts / "evaluation" / "test_by_month.csv")
    served = by_month[by_month["features"] == "as_served"]
    assert served["rows"].sum() == m["rows_test"]
    assert served["positives"].sum() == m["positives_test"]
    for record in served.to_dict("records"):
        key = f"test_blend_precision_at_5_month_{record['month']}"
        assert m[key] == pytest.approx(record["precision_at_5"])
    psi = pd.read_csv(artifacts / "evaluation" / "psi_train_vs_served.csv")
    assert len(psi) == m["feature_columns_used"] + (~psi["used_by_model"]).sum()
    assert m["psi_max"] == pytest.approx(psi["psi"].max())
    assert m["psi_count_over_0_25"] == (psi["psi"] > 0.25).sum()


def test_feature_groups_are_selected_and_logged(trained, logged) -> None:
    result, _ = trained
    params, _, artifacts = logged
    kept, dropped = (
        json.loads(params["feature_groups_kept"]),
        json.loads(params["feature_groups_dropped"]),
    )
    groups = pd.read_csv(artifacts / "evaluation" / "feature_groups.csv")
    assert set(kept) | set(dropped) == set(groups["group"])
    assert {"profiles_party", "profiles_goods", "graph", "valuation"} <= set(groups["group"])
    assert groups.set_index("group")["kept"].to_dict() == {g: g in kept for g in groups["group"]}
    for g in groups["group"]:
        assert f"group_effect_precision_at_5_{g}" in result.metrics
    assert read_bundle(result.bundle).manifest["feature_groups"] == {
        "kept": kept,
        "dropped": dropped,
    }
    # the registered trees read no column of a dropped group
    booster = lgb.Booster(model_file=str(result.bundle / "trees.txt"))
    used = booster.feature_importance("split") > 0
    spec = json.loads((result.bundle / "features" / "feature_spec.json").read_text())
    owner = group_of(model_groups({k: tuple(v) for k, v in spec["groups"].items()}))
    read = {owner[n] for n, u in zip(booster.feature_name(), used, strict=True) if u}
    assert read <= set(kept)
    assert not read & set(dropped)


def test_the_refit_is_registered_and_the_metrics_say_whose_they_are(trained, logged) -> None:
    result, _ = trained
    m = result.metrics
    params, tags, artifacts = logged
    registered = lgb.Booster(model_file=str(result.bundle / "trees.txt"))
    evaluated = lgb.Booster(model_file=str(result.evaluated_trees))
    assert (
        artifacts / "evaluated_model" / "trees.txt"
    ).read_text() == result.evaluated_trees.read_text()
    assert registered.model_to_string() != evaluated.model_to_string()
    rounds = refit_rounds(int(m["tree_best_iteration"]), int(m["refit_rows"]), int(m["rows_train"]))
    assert m["refit_rounds"] == rounds > m["tree_best_iteration"]
    assert registered.num_trees() == rounds
    assert evaluated.num_trees() == m["tree_best_iteration"]
    assert m["refit_rows"] > m["rows_train"] + m["rows_valid"] + m["rows_test"] - 1
    assert params["test_metrics_model"] == "pre_refit"
    assert "refitted on all labelled history" in tags["test_metrics_model"]
    manifest = read_bundle(result.bundle).manifest
    assert manifest["refit"]["refit_rounds"] == rounds
    assert "refitted on all labelled history" in manifest["evaluation"]["model"]
