"""The backtest replays a small generated world with real features and trees: exactly
the budget each week, outcomes only for the selected, deterministic by seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.lgbm import TreeConfig
from synth import WorldConfig, generate_world, write_world
from synth.reveal import ControlModel
from targeting.cli import app
from training.backtest import (
    BacktestConfig,
    BacktestWorld,
    Strategy,
    run_backtest,
    select,
    weeks_to_detection,
)
from training.exploration import DriftSignal, exploration_share

WORLD = WorldConfig(seed=5, days=70, declarations_per_day=250, drift_start_fraction=0.6)
QUICK = BacktestConfig(weeks=3, rounds=40, committee=2, tree=TreeConfig(threads=1))


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest-world")
    write_world(generate_world(WORLD), out)
    return out


@pytest.fixture(scope="module")
def world(world_dir: Path) -> BacktestWorld:
    return BacktestWorld.load(world_dir)


def test_same_seed_same_weekly_figures_and_exact_budget(world: BacktestWorld) -> None:
    strategies = [Strategy("probability", "random", 0.2)]
    first = run_backtest(world, strategies, QUICK)[0].weekly
    again = run_backtest(world, strategies, QUICK)[0].weekly
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == QUICK.weeks
    budget = (first["declarations"] * QUICK.inspection_rate).round()
    assert (first["controls"] == budget).all()
    assert first["labels_known"].is_monotonic_increasing
    assert (first["precision"] > 0).any()
    assert first["true_found_precision"].between(0, 1).all()
    other = run_backtest(world, strategies, BacktestConfig(**{**QUICK.__dict__, "seed": 1}))
    assert not first["precision"].equals(other[0].weekly["precision"])


def test_select_spends_exactly_the_budget_per_arm() -> None:
    score = np.linspace(1, 0, 100)
    rng = np.random.default_rng(0)
    only = select(score, 10, Strategy("probability", "random", 0.0), rng)
    assert sorted(only.rows) == list(range(10))
    assert (only.propensity == 1).all()
    mixed = select(score, 10, Strategy("probability", "random", 0.3), rng)
    assert len(set(mixed.rows)) == len(mixed.rows) == 10
    assert list(mixed.rows[:7]) == list(range(7))
    assert (mixed.basis[7:] == "random").all()
    assert np.allclose(mixed.propensity[7:], 3 / 93)
    spread = np.zeros(100)
    spread[[50, 60, 70]] = [0.3, 0.2, 0.1]
    unsure = select(score, 10, Strategy("probability", "uncertainty", 0.3), rng, spread)
    assert list(unsure.rows[7:]) == [50, 60, 70]


def test_revealed_outcomes_follow_the_world_control_model(world: BacktestWorld) -> None:
    control = world.control
    rows = np.arange(len(control.risk))
    results = control.reveal(
        rows, np.random.default_rng(0), np.full(len(rows), "random"), np.ones(len(rows))
    )
    found = results["outcome"].ne("no_irregularity").to_numpy()
    irregular = control.irregular
    expected = control.detection_probability(rows)
    p = expected[irregular]
    sigma = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(found[irregular].mean() - p.mean()) < 4 * sigma
    assert found[~irregular].mean() < 0.01
    assert (results["revenue_recovered"][~irregular & ~found] == 0).all()
    later = pd.to_datetime(results["controlled_at"]) > pd.to_datetime(
        world.frames["declarations"]["lodged_at"]
    )
    assert later.all()


def test_control_model_matches_the_truth_table(world_dir: Path, world: BacktestWorld) -> None:
    truth = pd.read_parquet(world_dir / "truth" / "ground_truth.parquet")
    assert world.control.irregular.sum() == len(truth)
    again = ControlModel.of(world.frames["declarations"], truth)
    assert (again.scheme == world.control.scheme).all()


def test_weeks_to_detection_counts_from_the_scheme_start(world: BacktestWorld) -> None:
    start = pd.Timestamp(world.drift_start, unit="s", tz="UTC")
    weeks = [start - pd.Timedelta(days=10), start - pd.Timedelta(days=3)]
    weeks += [start + pd.Timedelta(days=4 + 7 * i) for i in range(3)]
    weekly = pd.DataFrame({"week_start": weeks, "scheme_recall": [1.0, 0.2, 0.4, 0.6, 0.9]})
    assert weeks_to_detection(world, weekly, 0.5) == 3.0  # week 2 holds the start
    assert np.isnan(weeks_to_detection(world, weekly, 0.95))


def test_backtest_command_compares_and_logs_weekly_steps(
    world_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    run = CliRunner().invoke(
        app,
        ["backtest", "--world", str(world_dir), "--weeks", "2", "--compare", "--rounds", "30"],
    )
    assert run.exit_code == 0, run.output
    assert "weeks to detection" in run.output
    from training.tracking import mlflow_at

    mlflow = mlflow_at(tmp_path / "mlruns")
    runs = mlflow.search_runs(experiment_names=["targeting-backtest"], output_format="list")
    children = [r for r in runs if r.info.run_name != "backtest"]
    assert len(children) == 3
    history = mlflow.MlflowClient().get_metric_history(children[0].info.run_id, "recall")
    assert [m.step for m in history] == [1, 2]


def test_backtest_command_refuses_an_unknown_strategy(world_dir: Path) -> None:
    run = CliRunner().invoke(
        app, ["backtest", "--world", str(world_dir), "--strategy", "probability+hunch"]
    )
    assert run.exit_code == 2
    assert "EXPLOIT[+EXPLORE]" in run.output


def test_adaptive_exploration_follows_drift_within_bounds(world: BacktestWorld) -> None:
    adaptive = Strategy("probability", "random", 0.1, exploration_max=0.4)
    weekly = run_backtest(world, [adaptive], QUICK)[0].weekly
    share = weekly["exploration_share"]
    assert share.between(0.1, 0.4).all()
    signals = weekly[["drift_score_psi", "drift_features_moved", "drift_unseen_parties"]]
    expected = [exploration_share(DriftSignal(*row), adaptive.bounds) for row in signals.values]
    np.testing.assert_allclose(share, expected)  # the share is the logged drift's
    assert weekly[["drift_score_psi", "drift_features_moved"]].notna().all().all()
    assert (weekly["controls"] == (weekly["declarations"] * QUICK.inspection_rate).round()).all()
    assert adaptive.name == "probability+random10-40%"
    with pytest.raises(ValueError, match="low <= high"):
        Strategy("probability", "random", 0.3, exploration_max=0.2)


def test_backtest_runs_on_dask_with_the_same_budget(
    world_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--dask local``: the history's matrix by blocks and every weekly tree model (the
    uncertainty committee included) on a 2-worker LocalCluster; the budget is spent as in
    one process."""
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    args = ["backtest", "--world", str(world_dir), "--weeks", "2", "--rounds", "30"]
    args += ["--strategy", "probability+uncertainty", "--exploration", "0.2"]
    run = CliRunner().invoke(app, [*args, "--dask", "local", "--dask-workers", "2"])
    assert run.exit_code == 0, run.output
    assert "backtest on Dask: 2 workers" in run.output
    from training.tracking import mlflow_at

    mlflow = mlflow_at(tmp_path / "mlruns")
    runs = mlflow.search_runs(experiment_names=["targeting-backtest"], output_format="list")
    child = next(r for r in runs if r.info.run_name != "backtest")
    history = mlflow.MlflowClient().get_metric_history(child.info.run_id, "precision")
    assert [m.step for m in history] == [1, 2]
    assert all(0.0 <= m.value <= 1.0 for m in history)
    assert any(m.value > 0 for m in history)  # the Dask-trained trees find irregularities
