"""What a backtest leaves behind: one MLflow run per call (experiment
``targeting-backtest``) with a nested run per strategy whose weekly figures are metric
steps, the comparison plot, the weekly and summary tables."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from training.backtest import BacktestConfig, BacktestWorld, StrategyRun, summary_table
from training.tracking import experiment_id, mlflow_at

EXPERIMENT = "targeting-backtest"
WEEKLY_METRICS = (
    "precision",
    "recall",
    "revenue",
    "hits_share_of_best",
    "revenue_share_of_best",
    "found_precision",
    "scheme_recall",
    "ips_precision",
    "ips_precision_low",
    "ips_precision_high",
    "true_found_precision",
    "true_detectable_precision",
    "true_irregular_precision",
    "labels_known",
    "exploration_share",
    "drift_score_psi",
    "drift_features_moved",
    "drift_unseen_parties",
)


def comparison_plot(runs: Sequence[StrategyRun], path: Path) -> Path:
    """Weekly recall, revenue share and scheme recall of every strategy, one panel each."""
    panels = (
        ("recall", "recall at the budget"),
        ("revenue", "revenue (evaded) at the budget"),
        ("scheme_recall", "recall on the drifting scheme"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4), sharex=True)
    for ax, (column, title) in zip(axes, panels, strict=True):
        for run in runs:
            ax.plot(run.weekly["week"], run.weekly[column], marker="o", label=run.strategy.name)
        ax.set(xlabel="week", title=title, ylim=(0, 1.02))
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def weekly_table(runs: Sequence[StrategyRun]) -> pd.DataFrame:
    """Every strategy's weekly figures in one table."""
    return pd.concat([r.weekly.assign(strategy=r.strategy.name) for r in runs], ignore_index=True)


def log_backtest(
    mlruns_dir: Path,
    world_dir: str,
    world: BacktestWorld,
    runs: Sequence[StrategyRun],
    config: BacktestConfig,
) -> tuple[str, pd.DataFrame]:
    """Log the call and its strategies; returns the parent run id and the summary."""
    mlflow = mlflow_at(mlruns_dir)
    eid = experiment_id(mlruns_dir, EXPERIMENT)
    summary = summary_table(world, runs, config)
    params = {
        "world": world_dir,
        "weeks": config.weeks,
        "inspection_rate": config.inspection_rate,
        "seed": config.seed,
        "rounds": config.rounds,
        "committee": config.committee,
        "detection_recall": config.detection_recall,
        "drift_scheme": world.drift_scheme,
        "drift_start": pd.Timestamp(world.drift_start, unit="s", tz="UTC").isoformat(),
        "strategies": ",".join(r.strategy.name for r in runs),
        "weeks_to_detection": "first week, counted from the backtest week in which the"
        " drifting scheme starts (1 = that week), whose selection holds at least"
        f" {config.detection_recall:g} of the week's declarations of the scheme",
    }
    with mlflow.start_run(experiment_id=eid, run_name="backtest") as parent:
        mlflow.log_params(params)
        mlflow.log_dict(asdict(config), "config.json")
        for run in runs:
            name = run.strategy.name
            with mlflow.start_run(experiment_id=eid, run_name=name, nested=True):
                mlflow.log_params({**asdict(run.strategy), "strategy": name})
                for _, week in run.weekly.iterrows():
                    values = {m: float(week[m]) for m in WEEKLY_METRICS}
                    mlflow.log_metrics(
                        {k: v for k, v in values.items() if not math.isnan(v)},
                        step=int(week["week"]),
                    )
                row = summary[summary["strategy"] == name].iloc[0]
                mlflow.log_metrics(_finite(row.drop("strategy").to_dict(), "mean_"))
            for key, value in summary[summary["strategy"] == name].iloc[0].items():
                if key != "strategy" and isinstance(value, float) and not math.isnan(value):
                    mlflow.log_metric(f"{_key(name)}.{key}", value)
        with tempfile.TemporaryDirectory(prefix="targeting-backtest-") as work:
            folder = Path(work)
            mlflow.log_artifact(str(comparison_plot(runs, folder / "comparison.png")), "plots")
            weekly_table(runs).to_csv(folder / "weekly.csv", index=False)
            summary.to_csv(folder / "summary.csv", index=False)
            mlflow.log_artifact(str(folder / "weekly.csv"), "tables")
            mlflow.log_artifact(str(folder / "summary.csv"), "tables")
    return parent.info.run_id, summary


def _key(name: str) -> str:
    """A strategy name as an MLflow metric-name part (no '+' or '%')."""
    return name.replace("+", "_plus_").replace("%", "pct")


def _finite(values: dict[str, object], prefix: str) -> dict[str, float]:
    out = {}
    for key, value in values.items():
        if isinstance(value, int | float) and not math.isnan(float(value)):
            out[f"{prefix}{key}"] = float(value)
    return out
