"""Benchmark: folding new declarations into a big fitted feature state (issue 11).

The live state folds every scored declaration in after its own features are computed,
so a fold must cost little next to scoring: the bar is about 20 us per declaration
(+15 % of the serving floor's ~134 us) on a state of ~1M declarations. This script fits
``FeaturePipeline(all_blocks())`` on the first 75 % of a generated world, then replays
the rest in lodging order as it would arrive: each batch is scored (transformed), then
folded in with its ENS and the control results known by then, in batches of 8, 100,
1,000 and 10,000 declarations and three ways:

* ``frames``: ``update`` with the batch's declarations, results and filings (those
  linked and those filed meanwhile), as ``targeting score`` passes a day's;
* ``records``: ``update_records`` with the API's dicts (ENS embedded);
* ``inputs``: the API's way, a batch prepared once (``inputs_from_records``), scored
  (``transform_inputs``) and folded (``update_inputs``): the fold reuses the parsing
  and the key lookups of the scoring.

It prints CPU time per declaration for the folds (mean over every batch, so merges,
rebuilds and stale snapshots are counted) and the slowest fold, the transform time of
the same batches (which computes the snapshots a new period needs), the transform
time of a fixed probe before and after the folds (and after ``refresh``), and checks
that the folded state equals a refit on the concatenated history.

    python -m benchmarks.fold [--declarations-per-day 800] [--days 365] [--no-refit]
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.inputs import Inputs, inputs_from_frames, inputs_from_records
from graph.pipeline_blocks import all_blocks
from synth import WorldConfig, generate_world

SIZES = (8, 100, 1_000, 10_000)
PATHS = ("inputs", "records", "frames")
BUDGET_US = 20.0  # fold, per declaration, on the API path (inputs)
BUDGET_FROM = 1_000  # ... for batches of this size and more (smaller ones: see the table)
SLOWER = 0.05  # transform after folds and refresh, at most this much slower
PROBE = 1_000


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _plain(value: Any) -> Any:
    """A frame cell as an API value: None for missing, Python scalars, timestamps as is."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def api_records(d: pd.DataFrame, f: pd.DataFrame, i: pd.DataFrame) -> list[dict[str, Any]]:
    """Declarations as the API receives them: dicts with every ENS version and item."""
    linked = set(d["ens_id"].dropna())

    def by_filing(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
        rows = frame[frame["filing_id"].isin(linked)]
        return {
            k: [{c: _plain(v) for c, v in r.items()} for r in g.to_dict("records")]
            for k, g in rows.groupby("filing_id")
        }

    versions, goods = by_filing(f), by_filing(i)
    out = []
    for raw in d.to_dict("records"):
        rec = {k: _plain(v) for k, v in raw.items()}
        filing = rec.get("ens_id")
        if filing in versions:
            rec["ens"] = {"versions": versions[filing], "items": goods.get(filing, [])}
        out.append(rec)
    return out


class Replay:
    """The world after the fit cut, handed out batch by batch in lodging order."""

    def __init__(self, d: pd.DataFrame, c: pd.DataFrame, f: pd.DataFrame, cut: pd.Timestamp):
        self.d, self.c, self.f = d, c, f
        self.pos = int((d["lodged_at"] < cut).sum())  # d is sorted by lodged_at
        self.known = cut  # control results and filings up to here were passed

    def take(self, size: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The next ``size`` declarations, the results and filings known by the last."""
        batch = self.d.iloc[self.pos : self.pos + size]
        self.pos += len(batch)
        until = batch["lodged_at"].max()
        c, f = self.c, self.f
        results = c[(c["controlled_at"] >= self.known) & (c["controlled_at"] < until)]
        filed = (f["filed_at"] >= self.known) & (f["filed_at"] < until)
        filings = f[filed | f["filing_id"].isin(batch["ens_id"].dropna())]
        self.known = until
        return batch, results, filings


def _cpu(fn: Callable[[], Any]) -> float:
    began = time.process_time()
    fn()
    return time.process_time() - began


def _compare(a: FeaturePipeline, b: FeaturePipeline, probe: Inputs) -> tuple[float, ...]:
    """Transform CPU time of the probe by two states, interleaved (shared noise), each
    time on fresh inputs (no cached lookups): us per row of the 1,000-row batch and of
    one row, for each (10th percentile)."""
    batch: dict[int, list[float]] = {0: [], 1: []}
    one: dict[int, list[float]] = {0: [], 1: []}
    for rep in range(20):
        for k, pipe in enumerate((a, b)):
            rows = probe.take(np.arange(probe.n))
            batch[k].append(_cpu(lambda pipe=pipe, rows=rows: pipe.transform_inputs(rows)))
            for j in range(rep, probe.n, 100):
                row = probe.take(np.array([j]))
                one[k].append(_cpu(lambda pipe=pipe, row=row: pipe.transform_inputs(row)))
    per_row = [1e6 * np.percentile(batch[k], 10) / probe.n for k in (0, 1)]
    per_one = [1e6 * np.percentile(one[k], 10) for k in (0, 1)]
    return per_row[0], per_row[1], per_one[0], per_one[1]


def _fold(pipe: FeaturePipeline, path: str, batch: tuple, f: pd.DataFrame, i: pd.DataFrame):
    """Score then fold one batch; (transform seconds, fold seconds) of CPU."""
    d, results, filings = batch
    if path == "frames":
        items = i[i["filing_id"].isin(d["ens_id"].dropna())]
        scored = _cpu(lambda: pipe.transform(d, filings, items))
        return scored, _cpu(lambda: pipe.update(d, results, filings, items))
    records = api_records(d, f, i)
    if path == "records":
        scored = _cpu(lambda: pipe.transform_records(records))
        return scored, _cpu(lambda: pipe.update_records(records, results))
    prepared: list[Inputs] = []
    scored = _cpu(
        lambda: prepared.append(inputs_from_records(records, pipe.with_ens()))
        or pipe.transform_inputs(prepared[0])
    )
    return scored, _cpu(lambda: pipe.update_inputs(prepared[0], results))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--declarations-per-day", type=int, default=800)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--batches",
        type=int,
        nargs=4,
        default=(100, 20, 6, 1),
        help="batches of each size (8, 100, 1,000, 10,000) per path",
    )
    parser.add_argument("--no-refit", action="store_true", help="skip the refit check")
    args = parser.parse_args()

    config = WorldConfig(
        seed=args.seed, days=args.days, declarations_per_day=args.declarations_per_day
    )
    world = generate_world(config)
    d = world.frame("declarations").sort_values("lodged_at", kind="stable", ignore_index=True)
    c, f, i = world.frame("controls"), world.frame("ens_filings"), world.frame("ens_items")
    del world
    cut = d["lodged_at"].iloc[int(0.75 * len(d))]
    old_d, old_c, old_f = d[d.lodged_at < cut], c[c.controlled_at < cut], f[f.filed_at < cut]
    print(f"world                 {len(d):>12,} declarations, fit on {len(old_d):,}")
    began = time.perf_counter()
    pipe = FeaturePipeline(all_blocks()).fit(old_d, old_c, old_f, i)
    print(f"fit                   {time.perf_counter() - began:>10.1f} s")
    before = copy.deepcopy(pipe)
    # The probe: rows from the whole history, dated after every fact the replay folds.
    probe = inputs_from_frames(d.iloc[np.linspace(0, len(d) - 1, PROBE).astype(int)], f, i)
    probe.time = np.full(probe.n, int(d["lodged_at"].max().timestamp()) + 86_400)

    replay = Replay(d, c, f, cut)
    passed: list[tuple[pd.DataFrame, ...]] = [(old_d, old_c, old_f)]

    def run(path: str, size: int) -> tuple[float, float, float, int]:
        batch = replay.take(size)
        if len(batch[0]) == 0:
            return 0.0, 0.0, 0.0, 0
        scored, folded = _fold(pipe, path, batch, f, i)
        kept = batch[2] if path == "frames" else f[f["filing_id"].isin(batch[0]["ens_id"])]
        passed.append((batch[0], batch[1], kept))
        return scored, folded, folded, len(batch[0])

    for path in PATHS:  # warm-up: the vocabularies' lookup tables, the first merges
        run(path, 100)
    print("CPU time per declaration; a batch is scored (transform) and then folded (update)")
    head = f"{'path':<8}{'batch':>7}{'folds':>7}{'fold us':>10}{'slowest ms':>12}"
    print(head + f"{'transform us':>14}")
    ok = True
    for path in PATHS:
        for size, count in zip(SIZES, args.batches, strict=True):
            scored = folded = worst = 0.0
            rows = 0
            for _ in range(count):
                s, fo, w, n = run(path, size)
                scored, folded, worst, rows = scored + s, folded + fo, max(worst, w), rows + n
            if rows:
                per = 1e6 * folded / rows
                print(
                    f"{path:<8}{size:>7,}{count:>7}{per:>10.1f}{1e3 * worst:>12.1f}"
                    f"{1e6 * scored / rows:>14.1f}"
                )
                ok &= path != "inputs" or size < BUDGET_FROM or per <= BUDGET_US
    print(f"(folded {sum(len(p[0]) for p in passed[1:]):,} declarations in all)")

    first = _cpu(lambda: pipe.transform_inputs(probe.take(np.arange(probe.n))))
    print(f"first probe transform {first:>10.2f} s  (computes any snapshot the folds made stale)")
    print(f"peak memory           {_peak_gib():>10.2f} GiB")
    if args.no_refit:  # the state before the folds: a smaller history
        other, label = before, "fit on the history before the folds"
    else:
        del before
        all_d = pd.concat([p[0] for p in passed], ignore_index=True)
        all_c = pd.concat([p[1] for p in passed], ignore_index=True)
        all_f = pd.concat([p[2] for p in passed], ignore_index=True)
        began = time.perf_counter()
        other = FeaturePipeline(all_blocks()).fit(
            all_d, all_c, all_f.drop_duplicates(["filing_id", "version"]), i
        )
        label = "refit on the same history"
        refit_s = time.perf_counter() - began
        sample = all_d.iloc[np.linspace(0, len(all_d) - 1, 3_000).astype(int)]
        x, y = pipe.transform(sample, f, i), other.transform(sample, f, i)
        px, py = pipe.transform_inputs(probe), other.transform_inputs(probe)
        worst = max(float(np.nanmax(np.abs(x - y))), float(np.nanmax(np.abs(px - py))))
        same = np.allclose(x, y, rtol=1e-6, atol=1e-6, equal_nan=True) and np.allclose(
            px, py, rtol=1e-6, atol=1e-6, equal_nan=True
        )
        print(
            f"refit on the history  {refit_s:>10.1f} s; folded == refit on 3,000 rows + probe:"
            f" {same} (max |diff| {worst:.2g})"
        )
        ok &= same
    o_row, a_row, o_one, a_one = _compare(other, pipe, probe)
    print(f"probe transform, CPU  {label} -> folded state")
    print(
        f"  after the folds     {o_row:7.1f} -> {a_row:.1f} us/row ({a_row / o_row - 1:+.1%};"
        f" {PROBE:,} rows), 1 row {o_one:.0f} -> {a_one:.0f} us ({a_one / o_one - 1:+.1%})"
    )
    refresh = _cpu(pipe.refresh)
    o_row, r_row, o_one, r_one = _compare(other, pipe, probe)
    print(
        f"  after refresh       {o_row:7.1f} -> {r_row:.1f} us/row ({r_row / o_row - 1:+.1%}),"
        f" 1 row {o_one:.0f} -> {r_one:.0f} us (refresh: {refresh:.2f} s CPU)"
    )
    if not args.no_refit:
        ok &= r_row <= (1 + SLOWER) * o_row
    print(
        f"{'PASS' if ok else 'FAIL'}  (checked: API-path folds <= {BUDGET_US:.0f} us/decl from"
        f" {BUDGET_FROM:,}-row batches; folded == refit; transform after refresh within"
        f" {SLOWER:.0%} of the refit's)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
