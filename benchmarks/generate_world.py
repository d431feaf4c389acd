"""Benchmark: generate and write a world of about 1M declarations.

Target (issue 2): at most 120 s and 4 GiB on the 2-core CI machine. Prints wall
time, peak resident memory and the world's sizes. Run:

    python -m benchmarks.generate_world [--per-day 2800] [--days 365]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from synth import WorldConfig, generate_world, write_world

TIME_BUDGET_S = 120.0
MEMORY_BUDGET_GIB = 4.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=2800)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = WorldConfig(seed=args.seed, days=args.days, declarations_per_day=args.per_day)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        world = generate_world(config)
        generated = time.perf_counter()
        write_world(world, Path(tmp))
        done = time.perf_counter()
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB
    summary = world.summary()
    total = done - began
    print(f"declarations      {summary['declarations']:>12,}")
    print(f"ens filings       {summary['ens_filings']:>12,}")
    print(f"ens items         {summary['ens_items']:>12,}")
    print(f"controls          {summary['controls']:>12,}")
    print(f"irregular share   {summary['irregular_share']:>12.4f}")
    print(f"generate          {generated - began:>10.1f} s")
    print(f"write parquet     {done - generated:>10.1f} s")
    print(f"total             {total:>10.1f} s   (budget {TIME_BUDGET_S:.0f} s)")
    print(f"peak memory       {peak_gib:>10.2f} GiB (budget {MEMORY_BUDGET_GIB:.0f} GiB)")
    ok = total <= TIME_BUDGET_S and peak_gib <= MEMORY_BUDGET_GIB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
