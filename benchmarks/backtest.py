"""Benchmark: the issue's strategy comparison on a year-long world.

Generates a world (365 days x 600 a day by default) whose drifting scheme (origin
laundering) starts three quarters into the year, so that the 26-week backtest has
thirteen weeks before it and thirteen after, then runs ``targeting backtest --compare``
(model only; model + 10 % random; model + 10 % uncertainty) at a 5 % budget and prints
the strategy table, the weeks to detection and the weekly IPS estimate beside its truth.
Takes about 10 minutes on two cores. With ``--exploration-max`` a fourth strategy lets
drift raise the random share up to that bound.

``--estimates-only --seeds N`` checks the inverse-propensity estimate instead: model +
random at each ``--shares`` for N backtest seeds (the random arm's draws and the revealed
outcomes change, the world stays), and prints per share the estimate's mean error against
the two truths and how often its interval covers them, over all seeds and weeks.

    python -m benchmarks.backtest [--days 365] [--per-day 600] [--weeks 26] [--seed 0]
    python -m benchmarks.backtest --estimates-only --seeds 5 --weeks 12 --shares 0.1 0.3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from synth import WorldConfig, generate_world, write_world
from training.backtest import (
    BacktestConfig,
    BacktestWorld,
    Strategy,
    issue_strategies,
    run_backtest,
)
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
    parser.add_argument("--exploration-max", type=float, default=None)
    parser.add_argument("--drift-scheme", default="origin_laundering")
    parser.add_argument("--estimates-only", action="store_true")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.3])
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
            drift_scheme=args.drift_scheme,
        )
        write_world(generate_world(config), folder / "world")
        world = BacktestWorld.load(folder / "world")
        print(
            f"world: {args.days} days x {args.per_day}/day in {time.perf_counter() - began:.0f} s"
        )
        if args.estimates_only:
            estimates_over_seeds(world, args)
            return
        bt = BacktestConfig(weeks=args.weeks, seed=args.seed)
        began = time.perf_counter()
        strategies = issue_strategies(args.exploration, args.exploration_max)
        runs = run_backtest(world, strategies, bt, progress=_echo)
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
        "exploration_share",
        "drift_score_psi",
        "drift_features_moved",
        "drift_unseen_parties",
    ]
    print(weekly[columns].round(3).to_string(index=False))
    print_estimate_check(weekly[weekly["strategy"].str.contains("random")])


def print_estimate_check(weekly: pd.DataFrame) -> None:
    """The IPS precision estimate against both truths over the given weeks."""
    for truth in ("true_found_precision", "true_detectable_precision"):
        inside = (weekly["ips_precision_low"] <= weekly[truth]) & (
            weekly[truth] <= weekly["ips_precision_high"]
        )
        error = weekly["ips_precision"] - weekly[truth]
        print(
            f"  vs {truth}: mean error {error.mean():+.4f} (truth mean"
            f" {weekly[truth].mean():.3f}), mean |error| {error.abs().mean():.4f}, interval"
            f" covers it {inside.mean():.0%} of {len(weekly)} weeks, mean width"
            f" {(weekly['ips_precision_high'] - weekly['ips_precision_low']).mean():.3f}"
        )


def estimates_over_seeds(world: BacktestWorld, args: argparse.Namespace) -> None:
    """Model + random at each share, for ``args.seeds`` backtest seeds."""
    strategies = [Strategy("probability", "random", share) for share in args.shares]
    weekly = []
    began = time.perf_counter()
    for seed in range(args.seed, args.seed + args.seeds):
        bt = BacktestConfig(weeks=args.weeks, seed=seed)
        runs = run_backtest(world, strategies, bt, progress=lambda _: None)
        weekly.append(weekly_table(runs).assign(seed=seed))
        _echo(f"seed {seed} done")
    table = pd.concat(weekly, ignore_index=True)
    print(
        f"estimates: {args.seeds} seeds x {args.weeks} weeks x {len(strategies)} shares in"
        f" {time.perf_counter() - began:.0f} s; precision at the"
        f" {BacktestConfig().inspection_rate:.0%} budget"
    )
    for name, group in table.groupby("strategy", sort=False):
        per_seed = group.groupby("seed")[["ips_precision", "true_found_precision"]].mean()
        gap = per_seed["ips_precision"] - per_seed["true_found_precision"]
        print(
            f"{name}: seed-mean error vs true_found_precision {gap.mean():+.4f}"
            f" (per seed {', '.join(f'{g:+.3f}' for g in gap)})"
        )
        print_estimate_check(group)


if __name__ == "__main__":
    main()
