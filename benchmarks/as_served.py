"""Benchmark: what the service catches over three months, scored as it would run.

Generates a world of at least 12 months, trains with ``targeting train`` on the first
months (declarations lodged, control results known and ENS filed before the cut), then
scores each later day through ``targeting score`` as the day's declarations arrive (no
labels; the live feature state folds each day in). Against the generator's ground truth
(every declaration, not only the controlled ones) it prints precision and recall at 1, 5
and 10 % per month and pooled, beside two references scored with the same model:

- ``frozen``: the training-end state, nothing folded (the service before live state);
- ``point-in-time``: the period's declarations and every control result folded at once,
  each row seeing the results known before it (how a training report's test window is
  scored with a live label history).

With ``--with-results`` each daily run also gets the control results that became known
since the previous day (``targeting score --controls``), as the API folds posted results.

    python -m benchmarks.as_served [--days 365] [--per-day 600] [--train-months 9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from canonical.frames import write_table
from features.live import LiveState
from models.bundle import read_bundle
from models.metrics import top_k
from serving.live import bundle_source, state_end_of
from serving.scoring import Scorer
from synth import WorldConfig, generate_world
from targeting.cli import app

BUDGETS = (1, 5, 10)


def _write_history(frames: dict[str, pd.DataFrame], cut: pd.Timestamp, out: Path) -> None:
    """The canonical tables as known at ``cut``: what the administration trains on."""
    d = frames["declarations"]
    write_table(d[d.lodged_at < cut], "declarations", out / "declarations.parquet")
    c = frames["controls"]
    write_table(c[c.controlled_at < cut], "controls", out / "controls.parquet")
    f = frames["ens_filings"]
    known = f[f.filed_at < cut]
    write_table(known, "ens_filings", out / "ens_filings.parquet")
    items = frames["ens_items"].merge(known[["filing_id", "version"]])
    write_table(items, "ens_items", out / "ens_items.parquet")


def _ens_of(frames: dict[str, pd.DataFrame], rows: pd.DataFrame, out: Path) -> Path:
    """The ENS filings (every version) and items the day's declarations link to."""
    f = frames["ens_filings"]
    mine = f[f.filing_id.isin(rows.ens_id.dropna())]
    write_table(mine, "ens_filings", out / "ens_filings.parquet")
    items = frames["ens_items"]
    write_table(items[items.filing_id.isin(mine.filing_id)], "ens_items", out / "ens_items.parquet")
    return out / "ens_filings.parquet"


def _invoke(args: list[str], env: dict[str, str]) -> str:
    run = CliRunner().invoke(app, args, env=env)
    if run.exit_code != 0:
        raise RuntimeError(f"targeting {args[0]} failed ({run.exit_code}):\n{run.output}")
    return run.output


def _metrics(scores: np.ndarray, irregular: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in BUDGETS:
        picked = top_k(scores, n)
        hits = irregular[picked].sum()
        out[f"p@{n}"] = float(hits / max(len(picked), 1))
        out[f"r@{n}"] = float(hits / max(irregular.sum(), 1))
    return out


def _table(title: str, period: pd.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    """Rows of per-month and pooled metrics for every scoring in ``columns``."""
    rows = []
    months = period.lodged_at.dt.strftime("%Y-%m")
    for month in [*sorted(months.unique()), "pooled"]:
        part = period if month == "pooled" else period[months == month]
        irregular = part["irregular"].to_numpy()
        for name in columns:
            m = _metrics(part[name].to_numpy(), irregular)
            rows.append({"table": title, "month": month, "scoring": name, "rows": len(part), **m})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-months", type=int, default=9)
    parser.add_argument("--with-results", action="store_true")
    parser.add_argument("--keep", type=Path, help="Keep the work folder here.")
    args = parser.parse_args()
    if args.days < 365:
        parser.error("--days must be at least 365 (12 months)")

    world = generate_world(
        WorldConfig(seed=args.seed, days=args.days, declarations_per_day=args.per_day)
    )
    frames = {name: world.frame(name) for name in world.tables}
    truth = world.truth.to_pandas()
    d = frames["declarations"]
    start = d.lodged_at.min().floor("D")
    cut = start + pd.DateOffset(months=args.train_months)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-as-served-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "TARGETING_MLRUNS_DIR": str(work / "mlruns"),
        "TARGETING_LIVE_STATE_DIR": str(work / "live-state"),
        "TARGETING_LOG_LEVEL": "WARNING",
    }
    try:
        history = work / "history"
        history.mkdir(exist_ok=True)
        _write_history(frames, cut, history)
        began = time.perf_counter()
        trained = _invoke(["train", "--world", str(history)], env)
        print(
            f"trained on {len(d[d.lodged_at < cut]):,} declarations before {cut.date()}"
            f" in {time.perf_counter() - began:.0f} s"
        )
        print("\n".join(line for line in trained.splitlines() if "precision@5%" in line))

        period = d[d.lodged_at >= cut].sort_values("lodged_at", kind="stable")
        days = period.lodged_at.dt.floor("D")
        controls = frames["controls"]
        given_until = cut
        parts, seconds = [], []
        for day in sorted(days.unique()):
            rows = period[days == day]
            folder = work / "days" / day.strftime("%Y-%m-%d")
            folder.mkdir(parents=True, exist_ok=True)
            write_table(rows, "declarations", folder / "declarations.parquet")
            score_args = [
                "score",
                "--declarations", str(folder / "declarations.parquet"),
                "--ens", str(_ens_of(frames, rows, folder)),
                "--out", str(folder / "scores.csv"),
            ]  # fmt: skip
            if args.with_results:
                known = controls[
                    (controls.controlled_at >= given_until) & (controls.controlled_at < day)
                ]
                given_until = day
                write_table(known, "controls", folder / "controls.parquet")
                score_args += ["--controls", str(folder / "controls.parquet")]
            t = time.perf_counter()
            _invoke(score_args, env)
            seconds.append(time.perf_counter() - t)
            parts.append(pd.read_csv(folder / "scores.csv")[["declaration_id", "score"]])
        served = pd.concat(parts).rename(columns={"score": "as_served"})
        print(
            f"scored {len(served):,} declarations in {len(seconds)} daily runs of targeting"
            f" score: median {np.median(seconds):.1f} s, max {np.max(seconds):.1f} s per run"
        )

        # References with the same bundle: frozen, and point-in-time with every result.
        bundle = next((work / "mlruns").rglob("manifest.json")).parent
        info = read_bundle(bundle)
        f, i = frames["ens_filings"], frames["ens_items"]
        frozen = Scorer(info).score_frame(period, f, i, reasons=False).score
        scorer = Scorer(info)
        source = bundle_source(info.manifest)
        live = LiveState.start(scorer.pipeline, source, state_end_of(info.manifest))
        live.fold(period, controls[controls.controlled_at >= cut], f, i)
        point_in_time = scorer.score_frame(period, f, i, reasons=False).score

        table = period[["declaration_id", "lodged_at"]].merge(served, on="declaration_id")
        for name, scores in (("frozen", frozen), ("point_in_time", point_in_time)):
            by_id = dict(zip(period.declaration_id, scores, strict=True))
            table[name] = table.declaration_id.map(by_id)
        table["irregular"] = table.declaration_id.isin(truth.declaration_id)
        rows = _table("as served", table, ["as_served", "frozen", "point_in_time"])
        result = pd.DataFrame(rows)
        pd.set_option("display.width", 160)
        print(
            f"\n{len(table):,} declarations after {cut.date()},"
            f" irregular share {table.irregular.mean():.4f} (ground truth)"
        )
        print(result.drop(columns="table").round(3).to_string(index=False))
        monthly = result[(result.scoring == "as_served") & (result.month != "pooled")]
        first, last = monthly.iloc[0], monthly.iloc[-1]
        print(
            f"\nrecall@5% as served: first month {first['r@5']:.3f}, last month"
            f" {last['r@5']:.3f} (gap {first['r@5'] - last['r@5']:+.3f}; goal within 0.03)"
        )
        result.to_csv(work / "as_served.csv", index=False)
        print(f"table -> {work / 'as_served.csv'}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
