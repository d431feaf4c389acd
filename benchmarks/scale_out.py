"""Benchmark: score a world of 10 million declarations in one process and on Dask.

1. Generates the world in shards (``--shards`` worlds of a year from 2025-06-01, after the
   model's training world; each its own traders, ids prefixed by shard so none collide),
   two shards at a time, written as monthly partitions (``canonical.partitions``:
   declarations with their ENS) and, for the single process, appended to one declarations
   file and one ENS file.
2. Trains a model with ``targeting train`` on a small separate world (or takes ``--model``).
3. Runs ``targeting score --no-reasons`` on the whole file in one process, and
   ``targeting score --dask local --dask-workers N --no-reasons`` on the partitions, each
   from a fresh live state, sampling every process's resident memory every 0.2 s. A
   process over ``--cap-gib`` is stopped and reported as over it (this machine: 24 GiB).
4. Prints throughput, peak memory per process and the parity of scores (max difference).

    python -m benchmarks.scale_out [--declarations 10000000] [--shards 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq

from canonical.frames import TABLE_FILES, to_arrow
from canonical.partitions import write_partitions
from canonical.schema import TABLES
from synth import WorldConfig, generate_world, write_world

GIB = 2**30
SCORED_FROM = date(2025, 6, 1)  # after the training world's 120 days from 2025-01-01
TARGETING = str(Path(sys.executable).with_name("targeting"))  # the installed command
SINGLE_TABLES = ("declarations", "ens_filings", "ens_items")


def _shard(k: int, per_day: int, days: int, out: Path) -> dict[str, Path]:
    """Shard ``k``: a world of its own, ids prefixed, as monthly partitions and flat files."""
    config = WorldConfig(seed=100 + k, start=SCORED_FROM, days=days, declarations_per_day=per_day)
    world = generate_world(config)
    frames = {name: world.frame(name) for name in SINGLE_TABLES}
    tag = f"S{k:02d}-"
    d = frames["declarations"]
    d["declaration_id"] = tag + d["declaration_id"].astype(str)
    d["ens_id"] = (tag + d["ens_id"].astype(str)).where(d["ens_id"].notna())
    for name in ("ens_filings", "ens_items"):
        frames[name]["filing_id"] = tag + frames[name]["filing_id"].astype(str)
    write_partitions(frames, out / "partitions", freq="M", prefix=f"s{k:02d}-")
    flat = {}
    for name in SINGLE_TABLES:
        path = out / "flat" / f"{k:02d}-{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_arrow(frames[name], TABLES[name]), path)
        flat[name] = path
    return flat


def generate(args: argparse.Namespace, out: Path) -> tuple[Path, Path, int]:
    """The sharded world: (partitions folder, single-process folder, declarations)."""
    per_day = max(10, round(args.declarations / args.shards / args.days))
    with ProcessPoolExecutor(2) as pool:
        flats = list(
            pool.map(
                _shard,
                range(args.shards),
                [per_day] * args.shards,
                [args.days] * args.shards,
                [out] * args.shards,
            )
        )
    single = out / "single"
    single.mkdir(exist_ok=True)
    rows = 0
    for name in SINGLE_TABLES:
        writer = None
        for flat in flats:
            table = pq.read_table(flat[name])
            if name == "declarations":
                rows += table.num_rows
            writer = writer or pq.ParquetWriter(single / TABLE_FILES[name], table.schema)
            writer.write_table(table)
            flat[name].unlink()
        if writer is not None:
            writer.close()
    return out / "partitions", single, rows


def train_model(out: Path, env: dict[str, str]) -> None:
    """Register a model trained on a small world of its own (120 days of 1,000 a day) in
    the benchmark's MLflow store: ``targeting score`` then takes it as the latest."""
    world = generate_world(WorldConfig(seed=7, days=120, declarations_per_day=1000))
    write_world(world, out / "train-world")
    subprocess.run(
        [TARGETING, "train", "--world", str(out / "train-world")],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def watched(command: list[str], env: dict[str, str], cap_gib: float) -> dict[str, object]:
    """Run ``command``; sample the resident memory of it and its children every 0.2 s."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    root = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, int]] = {}
    over = False
    while proc.poll() is None:
        try:
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        total = 0
        for p in family:
            try:
                rss = p.memory_info().rss
                name = " ".join(p.cmdline()[1:4])[:60]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += rss
            if rss > peaks.get(p.pid, ("", 0))[1]:
                peaks[p.pid] = (name, rss)
        if max((r for _, r in peaks.values()), default=0) > cap_gib * GIB:
            over = True
            for p in reversed(family):
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            break
        time.sleep(0.2)
    output = proc.communicate()[0]
    return {
        "seconds": time.perf_counter() - began,
        "rc": proc.returncode,
        "over_cap": over,
        "peaks": peaks,
        "output": output,
    }


def parity(single: Path, partitions: Path) -> dict[str, float]:
    """Max difference of score and expected revenue between the two outputs, by id."""
    a = pd.read_parquet(
        single, columns=["declaration_id", "score", "expected_revenue", "risk_band"]
    )
    parts = sorted(partitions.glob("*.parquet"))
    b = pd.concat([pd.read_parquet(p, columns=list(a.columns)) for p in parts], ignore_index=True)
    b = b.set_index("declaration_id").loc[a["declaration_id"]]
    return {
        "rows": float(len(a)),
        "max_score_diff": float(np.max(np.abs(a["score"].to_numpy() - b["score"].to_numpy()))),
        "max_revenue_rel_diff": float(
            np.max(
                np.abs(a["expected_revenue"].to_numpy() - b["expected_revenue"].to_numpy())
                / np.maximum(np.abs(a["expected_revenue"].to_numpy()), 1.0)
            )
        ),
        "band_agreement": float(np.mean(a["risk_band"].to_numpy() == b["risk_band"].to_numpy())),
    }


def _peak_lines(label: str, run: dict[str, object]) -> list[str]:
    peaks = run["peaks"]
    assert isinstance(peaks, dict)
    ranked = sorted(peaks.values(), key=lambda v: -v[1])
    return [f"  {label} process {name!r}: {rss / GIB:.2f} GiB" for name, rss in ranked[:4]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--declarations", type=int, default=10_000_000)
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cap-gib", type=float, default=20.0)
    parser.add_argument("--model", type=Path, default=None, help="bundle folder")
    parser.add_argument("--work", type=Path, default=None, help="kept; default a temp folder")
    parser.add_argument("--skip-single", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="scale-out-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TARGETING_MLRUNS_DIR": str(work / "mlruns"), "PYTHONUNBUFFERED": "1"}
    began = time.perf_counter()
    partitions, single, rows = generate(args, work)
    generated = time.perf_counter() - began
    n_parts = sum(1 for p in partitions.iterdir() if p.is_dir())
    print(f"world: {rows:,} declarations in {n_parts} partitions, generated in {generated:.0f} s")
    cli = [TARGETING, "score", "--no-reasons"]
    if args.model is None:
        train_model(work, env)
    else:
        cli += ["--model", str(args.model)]
    runs: dict[str, dict[str, object]] = {}
    if not args.skip_single:
        runs["single"] = watched(
            [
                *cli,
                "--declarations",
                str(single / "declarations.parquet"),
                "--ens",
                str(single / "ens_filings.parquet"),
                "--out",
                str(work / "single.parquet"),
                "--state",
                str(work / "state-single"),
            ],
            env,
            args.cap_gib,
        )
    runs["dask"] = watched(
        [
            *cli,
            "--declarations",
            str(partitions),
            "--out",
            str(work / "dask-out"),
            "--state",
            str(work / "state-dask"),
            "--dask",
            "local",
            "--dask-workers",
            str(args.workers),
        ],
        env,
        args.cap_gib,
    )
    print(f"\n{'run':<8} {'rc':>4} {'seconds':>9} {'decl/s':>9} {'peak GiB (largest process)':>27}")
    for label, run in runs.items():
        peaks = run["peaks"]
        assert isinstance(peaks, dict)
        top = max((r for _, r in peaks.values()), default=0) / GIB
        secs = float(run["seconds"])  # type: ignore[arg-type]
        note = " (stopped: over the cap)" if run["over_cap"] else ""
        print(f"{label:<8} {run['rc']!s:>4} {secs:>9.0f} {rows / secs:>9,.0f} {top:>27.2f}{note}")
    for label, run in runs.items():
        print("\n".join(_peak_lines(label, run)))
        tail = str(run["output"]).strip().splitlines()[-6:]
        print("\n".join(f"  {label}| {line}" for line in tail))
    single_ok = "single" in runs and runs["single"]["rc"] == 0
    if single_ok and runs["dask"]["rc"] == 0:
        figures = parity(work / "single.parquet", work / "dask-out")
        print("parity: " + ", ".join(f"{k} {v:.3g}" for k, v in figures.items()))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if runs["dask"]["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
