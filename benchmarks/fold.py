"""Benchmark: folding new declarations into a big fitted feature state (issue 11).

The live state folds every scored declaration in after its own features are computed,
so the fold must cost little next to scoring: the bar is about 20 us per declaration
(+15 % of the serving floor's ~134 us) on a state of ~1M declarations. This script
fits ``FeaturePipeline(all_blocks())`` (prior strengths fixed) on the first 75 % of a
generated world, then replays the rest in lodging order as serving would: each batch
is transformed, then folded in with its ENS and the control results known by then.
Batches of 8, 100, 1,000 and 10,000 declarations, through ``update`` (frames: the batch's
filings, as ``targeting score`` passes a day's) and ``update_records`` (API dicts, ENS
embedded).
It prints the fold cost per declaration (mean over the batches, so merges and
rebuilds are counted) and the largest fold, the transform cost of a fixed probe before
and after the folds, and checks that the folded state equals a refit on the
concatenated history.

    python -m benchmarks.fold [--declarations-per-day 800] [--days 365] [--no-refit]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.inputs import Inputs, inputs_from_frames
from features.profiles import ProfileConfig
from graph.pipeline_blocks import all_blocks
from synth import WorldConfig, generate_world

SIZES = (8, 100, 1_000, 10_000)
BUDGET_US = 20.0  # per declaration, amortised, on batches of 100 and more
PROBE = 1_000
# ``update`` never refits the profiles' prior strengths (fitted per period by ``fit``),
# so the refit check needs the same strengths on both sides: fixed here (folding costs
# the same whatever their value).
PINNED = ProfileConfig(smoothing=20.0)
SINGLES = 300


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
    fv = f[f["filing_id"].isin(linked)]
    iv = i[i["filing_id"].isin(linked)]
    versions = {k: g.to_dict("records") for k, g in fv.groupby("filing_id")}
    goods = {k: g.to_dict("records") for k, g in iv.groupby("filing_id")}
    out = []
    for raw in d.to_dict("records"):
        rec = {k: _plain(v) for k, v in raw.items()}
        filing = rec.get("ens_id")
        if filing in versions:
            rec["ens"] = {
                "versions": [{k: _plain(v) for k, v in r.items()} for r in versions[filing]],
                "items": [{k: _plain(v) for k, v in r.items()} for r in goods.get(filing, [])],
            }
        out.append(rec)
    return out


class Replay:
    """The world after the fit cut, handed out batch by batch in lodging order."""

    def __init__(self, d: pd.DataFrame, c: pd.DataFrame, f: pd.DataFrame, cut: pd.Timestamp):
        self.d, self.c, self.f = d, c, f
        self.pos = int((d["lodged_at"] < cut).sum())  # d is sorted by lodged_at
        self.known = cut  # control results and filings up to here are in the state

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


def _probe(pipe: FeaturePipeline, inputs: Inputs) -> tuple[float, float]:
    """Transform cost of the probe: us per row as one batch, and one row's p50 in us."""
    pipe.transform_inputs(inputs)
    batch = min(_timed(lambda: pipe.transform_inputs(inputs)) for _ in range(5))
    singles = [inputs.take(np.array([k])) for k in range(SINGLES)]
    for s in singles[:50]:
        pipe.transform_inputs(s)
    one = [_timed(lambda s=s: pipe.transform_inputs(s)) for s in singles]
    return 1e6 * batch / inputs.n, 1e6 * float(np.median(one))


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


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
        default=(200, 40, 16, 3),
        help="batches of each size (8, 100, 1,000, 10,000), per path",
    )
    parser.add_argument("--no-refit", action="store_true", help="skip the refit check")
    args = parser.parse_args()

    world = generate_world(
        WorldConfig(seed=args.seed, days=args.days, declarations_per_day=args.declarations_per_day)
    )
    d = world.frame("declarations").sort_values("lodged_at", kind="stable", ignore_index=True)
    c, f, i = world.frame("controls"), world.frame("ens_filings"), world.frame("ens_items")
    del world
    cut = d["lodged_at"].iloc[int(0.75 * len(d))]
    old_d, old_c, old_f = d[d.lodged_at < cut], c[c.controlled_at < cut], f[f.filed_at < cut]
    print(f"world                 {len(d):>12,} declarations, fit on {len(old_d):,}")

    began = time.perf_counter()
    pipe = FeaturePipeline(all_blocks(profile=PINNED)).fit(old_d, old_c, old_f, i)
    print(f"fit                   {time.perf_counter() - began:>10.1f} s")
    # The probe: rows from the whole history, dated after every fact the replay folds.
    rows = np.linspace(0, len(d) - 1, PROBE).astype(int)
    probe = inputs_from_frames(d.iloc[rows], f, i)
    probe.time = np.full(probe.n, int(d["lodged_at"].max().timestamp()) + 86_400)
    before_batch, before_one = _probe(pipe, probe)

    replay = Replay(d, c, f, cut)
    passed_d, passed_c, passed_f = [old_d], [old_c], [old_f]
    print(
        f"{'path':<8}{'batch':>7}{'folds':>7}{'fold us/decl':>14}{'max fold ms':>13}"
        f"{'transform us/decl':>19}"
    )
    ok = True
    for path in ("frames", "records"):
        for size, count in zip(SIZES, args.batches, strict=True):
            fold_s, transform_s, worst, rows_done = 0.0, 0.0, 0.0, 0
            for _ in range(count):
                batch, results, filings = replay.take(size)
                if len(batch) == 0:
                    break
                items = i[i["filing_id"].isin(batch["ens_id"].dropna())]
                records = api_records(batch, f, i) if path == "records" else None
                t0 = time.perf_counter()
                if records is not None:
                    pipe.transform_records(records)
                else:
                    pipe.transform(batch, filings, items)
                t1 = time.perf_counter()
                if records is not None:
                    pipe.update_records(records, results)
                else:
                    pipe.update(batch, results, filings, items)
                t2 = time.perf_counter()
                fold_s += t2 - t1
                transform_s += t1 - t0
                worst = max(worst, t2 - t1)
                rows_done += len(batch)
                passed_d.append(batch)
                passed_c.append(results)
                linked = f[f["filing_id"].isin(batch["ens_id"].dropna())]
                passed_f.append(linked if records is not None else filings)
            if rows_done == 0:
                continue
            per = 1e6 * fold_s / rows_done
            print(
                f"{path:<8}{size:>7,}{count:>7}{per:>14.1f}{1e3 * worst:>13.1f}"
                f"{1e6 * transform_s / rows_done:>19.1f}"
            )
            ok &= size < 100 or per <= BUDGET_US
    print("(transform us/decl includes the snapshots recomputed when a batch enters a period)")

    began = time.perf_counter()
    pipe.refresh()
    print(f"refresh after folds   {time.perf_counter() - began:>10.2f} s  (stale snapshots)")
    after_batch, after_one = _probe(pipe, probe)
    print(
        f"probe transform       {before_batch:>7.1f} -> {after_batch:.1f} us/row"
        f" ({PROBE:,}-row batch), 1 row {before_one:.0f} -> {after_one:.0f} us"
        " (before -> after the folds)"
    )
    slower = after_batch / before_batch - 1
    ok &= slower <= 0.05
    print(f"peak memory           {_peak_gib():>10.2f} GiB")

    if not args.no_refit:
        all_d = pd.concat(passed_d, ignore_index=True)
        all_c = pd.concat(passed_c, ignore_index=True)
        all_f = pd.concat(passed_f, ignore_index=True).drop_duplicates(["filing_id", "version"])
        began = time.perf_counter()
        refit = FeaturePipeline(all_blocks(profile=PINNED)).fit(all_d, all_c, all_f, i)
        refit_s = time.perf_counter() - began
        sample = all_d.iloc[np.linspace(0, len(all_d) - 1, 3_000).astype(int)]
        x, y = pipe.transform(sample, f, i), refit.transform(sample, f, i)
        px, py = pipe.transform_inputs(probe), refit.transform_inputs(probe)
        worst = max(float(np.nanmax(np.abs(x - y))), float(np.nanmax(np.abs(px - py))))
        same = np.allclose(x, y, rtol=1e-6, atol=1e-7, equal_nan=True) and np.allclose(
            px, py, rtol=1e-6, atol=1e-7, equal_nan=True
        )
        print(
            f"refit on the history  {refit_s:>10.1f} s; folded == refit on 3,000 rows + probe:"
            f" {same} (max |diff| {worst:.2g})"
        )
        ok &= same
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
