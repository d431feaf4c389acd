"""GPU check: scorer_gpu on CUDA against scorer_cpu on CPU, parity and throughput.

One prepared script for a machine with a GPU (written for one H200). Two steps, so
that the GPU machine needs only numpy and onnxruntime-gpu (no LightGBM, no torch):

    python -m benchmarks.gpu_check --prepare artifacts/gpu_check   # here: model + rows
    python -m benchmarks.gpu_check artifacts/gpu_check             # there: the check

Without a directory it builds into a temporary one first (needs LightGBM and torch).
It exits 2 with a clear message when ONNX Runtime's CUDA provider is not in use,
1 when GPU and CPU scores differ beyond 1e-5 (p_trees) / 1e-4 (the rest), else 0.
Prints the placement of the GPU graph's nodes (from an ORT profile), the parity and a
table of per-call latency and rows/s on CUDA and CPU at batch sizes 1, 256, 8,192.
Runs in well under a minute once the bundle exists.
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

BATCHES = (1, 256, 8_192)
ROWS = 8_192
TOLERANCE = {"p_trees": 1e-5, "p_network": 1e-4, "score": 1e-4, "risk_probs": 1e-4}


def prepare(directory: Path, trees: int = 500) -> None:
    """Train and export the benchmark model, and keep 8,192 rows and codes beside it."""
    from benchmarks.onnx_scorer import N_FEATURES, synthetic
    from benchmarks.onnx_scorer import build as build_bundle

    build_bundle(directory, trees, 31)
    rows, _ = synthetic(ROWS, 5, N_FEATURES)
    np.save(directory / "check_rows.npy", rows)
    np.save(directory / "check_codes.npy", np.random.default_rng(5).integers(0, 1000, (ROWS, 5)))
    for bulky in ("rows.npy", "codes.npy", "trees_orig.onnx"):
        (directory / bulky).unlink(missing_ok=True)  # keep the bundle small enough to carry


def _median_seconds(call: object, batch: int, rows: np.ndarray, codes: np.ndarray) -> float:
    starts = np.arange(0, len(rows) - batch + 1, batch)
    for _ in range(3):
        call(rows[:batch], codes[:batch])
    times: list[float] = []
    began = time.perf_counter()
    i = 0
    while len(times) < 10 or (time.perf_counter() - began < 1.0 and len(times) < 2_000):
        s = starts[i % len(starts)]
        i += 1
        t = time.perf_counter()
        call(rows[s : s + batch], codes[s : s + batch])
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _placement(path: Path, rows: np.ndarray, codes: np.ndarray) -> str:
    """Which provider ran the GPU graph's nodes, read from an ONNX Runtime profile."""
    import onnxruntime as ort

    from models.runtime import CPU, CUDA, session_options

    options = session_options()
    options.enable_profiling = True
    profiles = Path(tempfile.mkdtemp(prefix="gpu_check_profile_"))
    atexit.register(shutil.rmtree, profiles, True)
    options.profile_file_prefix = str(profiles / "gpu_check")
    session = ort.InferenceSession(str(path), options, providers=[CUDA, CPU])
    session.run(None, {"features": rows[:256], "codes": codes[:256]})
    profile = Path(session.end_profiling())
    try:
        events = json.loads(profile.read_text())
        ran = Counter(
            e["args"].get("provider", "?")
            for e in events
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
        )
        on_cpu = sorted(
            {
                e["args"].get("op_name", "?")
                for e in events
                if e.get("cat") == "Node" and e["args"].get("provider") == CPU
            }
        )
    except (OSError, ValueError, KeyError) as error:
        return f"unknown ({error})"
    return f"{dict(ran)}; ops on CPU: {on_cpu or 'none'}"


def check(directory: Path) -> int:
    """Parity and throughput; the exit status."""
    import onnxruntime as ort

    from models.runtime import CUDA, OnnxScorer

    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    try:
        gpu = OnnxScorer(directory / "scorer_gpu.onnx", device="cuda")
    except RuntimeError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 2
    assert gpu.provider == CUDA
    cpu = OnnxScorer(directory / "scorer_cpu.onnx", device="cpu")
    rows, codes = np.load(directory / "check_rows.npy"), np.load(directory / "check_codes.npy")
    print(
        f"placement of scorer_gpu nodes: {_placement(directory / 'scorer_gpu.onnx', rows, codes)}"
    )

    got, want = gpu.run(rows, codes), cpu.run(rows, codes)
    failed = False
    for name, tolerance in TOLERANCE.items():
        diff = float(np.abs(got[name].astype(np.float64) - want[name]).max())
        failed |= not diff <= tolerance
        print(f"parity {name:<17} max |gpu - cpu| {diff:.2e} (<= {tolerance:.0e})")
    revenue = np.abs(got["expected_revenue"].astype(np.float64) - want["expected_revenue"])
    scale = np.maximum(np.abs(want["expected_revenue"]), 1.0)
    worst = float((revenue / scale).max())
    failed |= not worst <= 1e-4
    print(f"parity expected_revenue max relative {worst:.2e} (<= 1e-04)")

    print(
        f"\n{'batch':>6} | {'cuda us':>9} {'rows/s':>11} | {'cpu us':>9} {'rows/s':>11} | cuda/cpu"
    )
    for batch in BATCHES:
        g = _median_seconds(gpu.run, batch, rows, codes)
        c = _median_seconds(cpu.run, batch, rows, codes)
        print(
            f"{batch:>6} | {g * 1e6:>9.1f} {batch / g:>11,.0f} | {c * 1e6:>9.1f} "
            f"{batch / c:>11,.0f} | {c / g:>7.2f}x"
        )
    print("\nPASS" if not failed else "\nFAIL: GPU and CPU scores differ")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="bundle from --prepare (default: build one in a temp dir)",
    )
    parser.add_argument("--prepare", type=Path, help="build the bundle here, then stop")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        print(
            f"prepared {args.prepare}: " + ", ".join(sorted(p.name for p in args.prepare.iterdir()))
        )
        return 0
    directory = args.directory
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="gpu_check_"))
        atexit.register(shutil.rmtree, directory, True)
        prepare(directory)
    return check(directory)


if __name__ == "__main__":
    raise SystemExit(main())
