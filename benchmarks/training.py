"""Benchmark: train on the default generated world (about 1M declarations) and report the
test-window metrics of LightGBM, network and blend, recall per planted scheme at a 5 %
budget over all test-window declarations, training time and peak memory.

    python -m benchmarks.training [--days 365] [--per-day 2800]
"""

from __future__ import annotations

import argparse
import atexit
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from models.metrics import top_k
from serving.scoring import Scorer
from synth import WorldConfig, generate_world
from training.train import train


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=2800)
    parser.add_argument("--ipw", action="store_true")
    args = parser.parse_args()
    world = generate_world(WorldConfig(days=args.days, declarations_per_day=args.per_day))
    frames = {name: world.frame(name) for name in world.tables}
    truth = world.truth.to_pandas()
    del world
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    atexit.register(shutil.rmtree, work, True)  # removed however the run ends
    began = time.perf_counter()
    from training.train import TrainConfig

    result = train(frames, work / "mlruns", TrainConfig(ipw=args.ipw), work_dir=work)
    elapsed = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    m = result.metrics
    d = frames["declarations"]
    print(
        f"declarations {len(d):,}; labelled rows train/valid/test "
        f"{m['rows_train']:.0f}/{m['rows_valid']:.0f}/{m['rows_test']:.0f}; "
        f"positives {m['positives_train']:.0f}/{m['positives_valid']:.0f}/{m['positives_test']:.0f}"
    )
    print(f"training time {elapsed:.0f} s  peak memory {peak:.2f} GiB")
    print("steps: " + ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items()))
    print(f"test base rate (labelled rows) {m['test_blend_base_rate']:.4f}")
    header = f"{'metric':<22}" + "".join(
        f"{n:>10}" for n in ("lgbm", "network", "blend", "baseline")
    )
    print(header)
    for key in [
        f"{k}_at_{n}" for k in ("precision", "recall", "revenue") for n in (1, 2, 5, 10)
    ] + ["norm_precision_at_5", "norm_recall_at_5", "norm_revenue_at_5", "pr_auc", "roc_auc"]:
        row = "".join(
            f"{m.get(f'test_{n}_{key}', float('nan')):>10.3f}"
            for n in ("lgbm", "network", "blend", "baseline")
        )
        print(f"{key:<22}{row}")
    for key in (
        "ece",
        "detection_at_5_aeo",
        "detection_at_5_non_aeo",
        "precision_at_5_random_controls",
        "base_rate_random_controls",
        "ips_precision_at_5",
        "ips_precision_at_5_low",
        "ips_precision_at_5_high",
        "ips_recall_at_5",
        "ips_recall_at_5_low",
        "ips_recall_at_5_high",
    ):
        print(f"blend {key:<32}{m.get(f'test_blend_{key}', float('nan')):.3f}")

    # Recall per planted scheme over every declaration of the test window (a 5 % budget).
    scorer = Scorer.from_bundle(result.bundle)
    window = scorer.manifest["training_window"]
    start = pd.Timestamp(window["test_start"])
    test = d[d.lodged_at >= start]
    scores = np.concatenate(
        [
            scorer.score_frame(
                test.iloc[i : i + 100_000],
                frames.get("ens_filings"),
                frames.get("ens_items"),
                reasons=False,
            ).score
            for i in range(0, len(test), 100_000)
        ]
    )
    picked = np.zeros(len(test), dtype=bool)
    picked[top_k(scores, 5)] = True
    scheme = test[["declaration_id"]].merge(truth, how="left")["scheme"].fillna("none").to_numpy()
    print(f"\nall {len(test):,} test-window declarations, top 5 % by score:")
    for name in sorted(set(scheme) - {"none"}):
        rows = scheme == name
        print(f"  recall {name:<22}{picked[rows].mean():>7.3f}   ({rows.sum():,} rows)")
    irregular = scheme != "none"
    print(
        f"  recall all irregular          {picked[irregular].mean():>7.3f}   "
        f"precision {irregular[picked].mean():.3f} (share irregular {irregular.mean():.4f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
