"""Benchmark: the ONNX tree scorer (trees_cpu.onnx) against native LightGBM, and scorer_cpu.

Issue bar: the ONNX scorer at least as fast as ``booster.predict`` at every batch size
(1, 16, 256, 4,096, 65,536 rows), with a realistic model (500 trees x 31 leaves on 130
synthetic features with NaNs). Each engine is timed in its own process: LightGBM's
OpenMP threads and ONNX Runtime's spinning intra-op threads slow each other down when
they alternate in one process, which would make either look worse than it is. Per
call: the median over >= 5 calls and >= ``--budget`` seconds, rotating over the rows;
each engine runs ``--repeat`` times, interleaved with the others, and its fastest
median counts (the VM's run-to-run noise is about 10 %).
Run:

    python -m benchmarks.onnx_scorer [--dir /tmp/onnx_scorer_bench] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

BATCHES = (1, 16, 256, 4_096, 65_536)
N_FEATURES = 130
POOL = 65_536


def synthetic(n: int, seed: int, n_features: int = N_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Float32 features (NaNs, zeros, integer-valued columns) and a nonlinear label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x[:, :30] = np.round(x[:, :30] * 3)
    x[:, 30:40] = np.where(rng.random((n, 10)) < 0.4, 0, np.abs(x[:, 30:40]) * 1000)
    x[rng.random(x.shape) < 0.05] = np.nan
    z = np.nan_to_num(x[:, :40])
    w = np.random.default_rng(0).normal(size=40)
    logit = z @ w / 4 + np.sin(z[:, 0] * 2) * 2 + (z[:, 1] * z[:, 2] > 1) - 1
    y = (rng.random(n) < 1 / (1 + np.exp(-np.clip(logit, -30, 30)))).astype(np.int64)
    return x, y


def build(directory: Path, trees: int, leaves: int) -> None:
    """Train the model (once; cached in ``directory``) and export the scorer there."""
    import lightgbm as lgb
    import torch

    from models.blend import fit_blend
    from models.export import export_scorer
    from models.network import RiskNet, feature_statistics
    from models.train_network import predict_network

    if (directory / "scorer_cpu.onnx").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    x, y = synthetic(20_000, 1)
    began = time.perf_counter()
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": leaves,
            "learning_rate": 0.05,
            "max_bin": 63,
            "min_data_in_leaf": 10,
            "feature_fraction": 0.8,
            "verbose": -1,
        },
        lgb.Dataset(x, y),
        trees,
    )
    print(f"trained {booster.num_trees()} trees in {time.perf_counter() - began:.0f} s")
    booster.save_model(str(directory / "model.txt"))
    torch.manual_seed(0)
    mean, std = feature_statistics(x)
    net = RiskNet(N_FEATURES, [1000] * 5, 4, mean, std).eval()
    xv, yv = synthetic(10_000, 2)
    cv = np.random.default_rng(2).integers(0, 1000, (len(xv), 5))
    blend, _ = fit_blend(booster.predict(xv), predict_network(net, xv, cv)["p"], yv)
    export_scorer(booster, net, blend, N_FEATURES, directory)
    pool, _ = synthetic(POOL, 3)
    np.save(directory / "rows.npy", pool)
    np.save(directory / "codes.npy", np.random.default_rng(3).integers(0, 1000, (POOL, 5)))


def _time(call: object, rows: np.ndarray, codes: np.ndarray, batch: int, budget: float) -> float:
    """Median seconds per call, rotating over the row pool."""
    starts = np.arange(0, len(rows) - batch + 1, batch)
    call(rows[:batch], codes[:batch])
    times: list[float] = []
    began = time.perf_counter()
    i = 0
    while len(times) < 5 or time.perf_counter() - began < budget:
        s = starts[i % len(starts)]
        i += 1
        x, c = rows[s : s + batch], codes[s : s + batch]
        t = time.perf_counter()
        call(x, c)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _engine(directory: Path, engine: str, budget: float) -> dict[int, float]:
    """Seconds per call of one engine at each batch size (runs in a fresh process).

    Engines: ``native`` (booster.predict; ``native:1`` on one thread), ``<graph>`` (the
    shipped ``OnnxScorer`` on ``<graph>.onnx``) and ``<graph>:<variant>``, a bare
    session: ``session`` (tuned options, no small-batch split), ``threads=k``,
    ``nospin`` (no intra-op spinning), ``basic`` (ORT_ENABLE_BASIC). ``trees_orig`` is
    onnxmltools' conversion as is (inexact), to show what exactness costs.
    """
    rows, codes = np.load(directory / "rows.npy"), np.load(directory / "codes.npy")
    kind, _, option = engine.partition(":")
    if kind == "native":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(directory / "model.txt"))
        threads = {"num_threads": int(option)} if option else {}

        def call(x: np.ndarray, c: np.ndarray) -> object:
            return booster.predict(x, **threads)
    elif not option:
        from models.runtime import OnnxScorer

        scorer = OnnxScorer(directory / f"{kind}.onnx", device="cpu")
        needs_codes = "codes" in scorer.input_names

        def call(x: np.ndarray, c: np.ndarray) -> object:
            return scorer.run(x, c if needs_codes else None)
    else:
        import onnxruntime as ort

        from models.runtime import session_options

        threads = int(option[8:]) if option.startswith("threads=") else None
        options = session_options(threads)
        if option == "nospin":
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if option == "basic":
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        session = ort.InferenceSession(
            str(directory / f"{kind}.onnx"), options, providers=["CPUExecutionProvider"]
        )
        needs_codes = len(session.get_inputs()) == 2

        def call(x: np.ndarray, c: np.ndarray) -> object:
            return session.run(
                None, {"features": x, "codes": c} if needs_codes else {"features": x}
            )

    return {
        b: _time(call, rows, codes, b, budget * (3 if b == BATCHES[-1] else 1)) for b in BATCHES
    }


def _measure(directory: Path, engine: str, budget: float) -> dict[int, float]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_engine, (directory, engine, budget))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/onnx_scorer_bench"))
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--tune", action="store_true", help="also time the tuning variants")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="processes per engine, interleaved; the fastest median counts",
    )
    args = parser.parse_args()
    build(args.dir, args.trees, args.leaves)
    print(f"cpus {os.cpu_count()}; model {args.dir / 'model.txt'}")
    engines = ["native", "trees_cpu", "scorer_cpu"]
    if args.tune:
        engines += [
            "native:1",
            "trees_cpu:session",
            "trees_cpu:threads=1",
            "trees_cpu:nospin",
            "trees_cpu:basic",
            "trees_orig:session",
        ]
        _write_unpatched(args.dir)
    results: dict[str, dict[int, float]] = {}
    for _ in range(args.repeat):  # interleaved, so drifts in machine load hit all engines
        for e in engines:
            r = _measure(args.dir, e, args.budget)
            results[e] = {b: min(r[b], results.get(e, r)[b]) for b in BATCHES}
    print(
        f"\n{'batch':>7} | {'native us':>10} {'rows/s':>10} | {'onnx us':>10} {'rows/s':>10}"
        f" | {'x native':>8} | {'scorer us':>10} {'rows/s':>10}"
    )
    for b in BATCHES:
        n, o, s = results["native"][b], results["trees_cpu"][b], results["scorer_cpu"][b]
        print(
            f"{b:>7} | {n * 1e6:>10.1f} {b / n:>10,.0f} | {o * 1e6:>10.1f} {b / o:>10,.0f}"
            f" | {n / o:>8.2f} | {s * 1e6:>10.1f} {b / s:>10,.0f}"
        )
    if args.tune:
        print("\ntuning variants (rows/s)")
        for e in engines:
            print(f"{e:>22} " + " ".join(f"{b / results[e][b]:>10,.0f}" for b in BATCHES))
    slower = [b for b in BATCHES if results["trees_cpu"][b] > results["native"][b]]
    print(
        "\nONNX trees at least as fast as native at every batch size:",
        "yes" if not slower else f"NO (slower at {slower})",
    )
    return 0


def _write_unpatched(directory: Path) -> None:
    """onnxmltools' conversion as is (inexact), to show what exactness costs."""
    import lightgbm as lgb
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = lgb.Booster(model_file=str(directory / "model.txt"))
    model = onnxmltools.convert_lightgbm(
        booster,
        initial_types=[("features", FloatTensorType([None, N_FEATURES]))],
        zipmap=False,
        target_opset=15,
    )
    (directory / "trees_orig.onnx").write_bytes(model.SerializeToString())


if __name__ == "__main__":
    raise SystemExit(main())
