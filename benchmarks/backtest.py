"""Benchmark: the issue's strategy comparison on a year-long world.

Generates a world (365 days x 600 a day by default) whose drifting scheme (origin
laundering) starts three quarters into the year, so that the 26-week backtest has
thirteen weeks before it and thirteen after, then runs ``targeting backtest --compare``
(model only; model + 10 % random; model + 10 % uncertainty) at a 5 % budget and prints
the strategy table, the weeks to detection and the weekly IPS estimate beside its truth.
Takes about 10 minutes on two cores.

    python -m benchmarks.backtest [--days 365] [--per-day 600] [--weeks 26] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from synth import WorldConfig, generate_world, write_world
from training.backtest import BacktestConfig, BacktestWorld, issue_strategies, run_backtest
from training.backtest_log import log_backtest, weekly_table


def _echo(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def main() -> None:
    """Generate, replay, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=600)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world-seed", type=int, default=7)
    parser.add_argument("--drift-start", type=float, default=0.75)
    parser.add_argument("--exploration", type=float, default=0.1)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    with tempfile.TemporaryDirectory(prefix="targeting-backtest-bench-") as work:
        folder = Path(work)
        began = time.perf_counter()
        config = WorldConfig(
            seed=args.world_seed,
            days=args.days,
            declarations_per_day=args.per_day,
            drift_start_fraction=args.drift_start,
        )
        write_world(generate_world(config), folder / "world")
        world = BacktestWorld.load(folder / "world")
        print(
            f"world: {args.days} days x {args.per_day}/day in {time.perf_counter() - began:.0f} s"
        )
        bt = BacktestConfig(weeks=args.weeks, seed=args.seed)
        began = time.perf_counter()
        runs = run_backtest(world, issue_strategies(args.exploration), bt, progress=_echo)
        elapsed = time.perf_counter() - began
        _, summary = log_backtest(folder / "mlruns", "benchmark world", world, runs, bt)
    print(f"backtest: {args.weeks} weeks x {len(runs)} strategies in {elapsed:.0f} s")
    print(summary.round(3).to_string(index=False))
    weekly = weekly_table(runs)
    columns = [
        "strategy",
        "week",
        "recall",
        "scheme_rows",
        "scheme_caught",
        "ips_precision",
        "ips_precision_low",
        "ips_precision_high",
        "true_found_precision",
        "true_detectable_precision",
    ]
    print(weekly[columns].round(3).to_string(index=False))
    random = weekly[weekly["strategy"].str.contains("random")]
    for truth in ("true_found_precision", "true_detectable_precision"):
        inside = (random["ips_precision_low"] <= random[truth]) & (
            random[truth] <= random["ips_precision_high"]
        )
        error = random["ips_precision"] - random[truth]
        print(
            f"IPS precision@budget (random arm) vs {truth}: mean error {error.mean():+.4f},"
            f" mean |error| {error.abs().mean():.4f}, interval covers it"
            f" {inside.mean():.0%} of {len(random)} weeks"
        )


if __name__ == "__main__":
    main()
