"""Benchmark: the least a scored declaration costs, stage by stage, without HTTP.

The serving goals compare the API with two ceilings measured on the same machine: the
bare empty POST (requests/s) and the bare ONNX scorer (rows/s). This script times, in
process and on the same rows as ``benchmarks.serving``, each stage every declaration
passes through whatever the server around it (parse and validate, stored JSON and
request hash, features, ONNX, selection and decision records, the durable log write,
the answer's JSON), with the service's own functions, for batches of 1,000 and for
micro-batches of 8 single requests. It prints what each stage costs per declaration,
the rate it allows by itself, and the budget per declaration the goals leave, so a
goal that the stages alone exceed shows as such.

    python -m benchmarks.serving_floor [--bundle DIR --world DIR] [--log-dir DIR]
        [--noop-rps N]   # the empty POST's requests/s from benchmarks.serving
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.responses import ORJSONResponse

from benchmarks.serving_rows import add_arguments, bundle_and_world, request_records

BATCH = 1000
MICRO = 8  # micro-batch of single requests at concurrency 8
FOLD_STAGE = "fold into live state (log tail)"
REPEATS = 5


def _median_time(fn: Callable[[int], Any], repeats: int = REPEATS) -> float:
    """Median seconds of ``fn(k)`` over ``repeats`` calls (k: the repeat, to vary rows)."""
    times = []
    for k in range(repeats):
        began = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--log-dir", type=Path, help="where the decision log is written")
    parser.add_argument("--noop-rps", type=float, help="empty-POST requests/s (for budgets)")
    parser.add_argument("--fold-rows", type=int, default=5 * BATCH, help="rows of one fold")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    atexit.register(shutil.rmtree, work, True)  # removed however the run ends
    bundle, world = bundle_and_world(args, work)
    records = request_records(world, 2 * BATCH)

    from features.inputs import inputs_from_records
    from serving.batch_body import read_batch
    from serving.decision_log import DecisionLog
    from serving.engine import DecisionEngine
    from serving.metrics import Metrics
    from serving.model_holder import ModelHolder, load_model
    from serving.routes.score import answer, score_job
    from serving.schemas import DECLARATION
    from serving.selection import RandomArm
    from serving.settings import ServingSettings
    from serving.state import policy_of

    log_dir = Path(tempfile.mkdtemp(prefix="bench-floor-log-", dir=args.log_dir or work))
    # Folds are timed as a stage of their own below, never inside another stage's timing.
    settings = ServingSettings(model_uri=str(bundle), data_dir=log_dir, fold_interval_s=3600)
    model = load_model(settings.model_uri, settings)
    scorer = model.scorer
    log = DecisionLog(settings.decision_db)
    log.register_spec(model.feature_spec_hash, list(scorer.names))
    engine = DecisionEngine(
        ModelHolder(model), policy_of(settings), log, Metrics(), RandomArm(b"benchmark-arm-key-0")
    )

    bodies = [
        json.dumps({"declarations": records[i : i + BATCH]}, separators=(",", ":")).encode()
        for i in (0, BATCH)
    ]
    singles = [json.dumps(r, separators=(",", ":")).encode() for r in records]

    # Batches of 1,000: each stage on its own, on the two bodies in turn.
    def body(k: int) -> bytes:
        return bodies[k % 2]

    parsed = [read_batch(b, "application/json").declarations for b in bodies]
    jobs = [score_job(p, "bench", False) for p in parsed]
    inputs = [inputs_from_records(j.records, with_ens=scorer.pipeline.with_ens()) for j in jobs]
    matrices = [(scorer.pipeline.transform_inputs(i), scorer.encoder.transform(i)) for i in inputs]
    outcomes = [engine.process([jobs[k % 2]]) for k in range(REPEATS)]  # each logged once
    before = _db_bytes(settings.decision_db)

    batch = {
        "parse JSON (json.loads)": _median_time(lambda k: json.loads(body(k))),
        "parse + validate (one pass)": _median_time(
            lambda k: read_batch(body(k), "application/json")
        ),
        "stored JSON, hash, record": _median_time(
            lambda k: score_job(parsed[k % 2], "bench", False)
        ),
        "features (inputs + pipeline + codes)": _median_time(
            lambda k: (
                scorer.pipeline.transform_inputs(
                    i := inputs_from_records(
                        jobs[k % 2].records, with_ens=scorer.pipeline.with_ens()
                    )
                ),
                scorer.encoder.transform(i),
            )
        ),
        "ONNX scorer": _median_time(lambda k: scorer.onnx.run(*matrices[k % 2])),
        "engine.process (all scoring + records)": _median_time(
            lambda k: engine.process([jobs[k % 2]])
        ),
        "durable log write (commit)": _median_time(lambda k: engine.commit(outcomes[k])),
        "answer JSON": _median_time(
            lambda k: ORJSONResponse(
                {"results": [{"index": i, **answer(o)} for i, o in enumerate(outcomes[k][0])]}
            )
        ),
    }
    written = (_db_bytes(settings.decision_db) - before) / (REPEATS * BATCH)
    folder = model.live
    assert folder is not None
    folder.fold()  # what the stages above logged: not part of the fold timings

    def fold_seconds(rows: int, tag: str) -> float:
        """Median seconds to fold ``rows`` fresh declarations, scored and logged just before
        (the log tail, own rows from memory, as the service folds every fold_interval_s)."""
        times = []
        for k in range(REPEATS):
            rows_k = [records[j % len(records)] for j in range(rows)]
            fresh = [
                DECLARATION.validate_python({**r, "declaration_id": f"{tag}{k}-{j}"})
                for j, r in enumerate(rows_k)
            ]
            engine.commit(engine.process([score_job(fresh, "bench", False)]))
            began = time.perf_counter()
            folder.fold()
            times.append(time.perf_counter() - began)
        return statistics.median(times)

    batch[FOLD_STAGE] = fold_seconds(BATCH, "b")
    bare_rate = BATCH / batch["ONNX scorer"]

    # Micro-batches of 8 single requests: what the route and the engine do per request.
    def micro_bodies(k: int) -> list[bytes]:
        return singles[k * MICRO : (k + 1) * MICRO]

    micro_parsed = [
        [DECLARATION.validate_python(json.loads(b)) for b in micro_bodies(k)]
        for k in range(REPEATS)
    ]
    micro_jobs = [[score_job([d], "bench", False) for d in p] for p in micro_parsed]
    micro_out = [engine.process(j) for j in micro_jobs]
    micro = {
        "parse + validate": _median_time(
            lambda k: [DECLARATION.validate_python(json.loads(b)) for b in micro_bodies(k)]
        ),
        "stored JSON, hash, record": _median_time(
            lambda k: [score_job([d], "bench", False) for d in micro_parsed[k]]
        ),
        "engine.process (all scoring + records)": _median_time(
            lambda k: engine.process(micro_jobs[k])
        ),
        "durable log write (commit)": _median_time(lambda k: engine.commit(micro_out[k])),
        "answer JSON": _median_time(lambda k: [ORJSONResponse(answer(o[0])) for o in micro_out[k]]),
    }
    micro[FOLD_STAGE] = fold_seconds(MICRO, "m")
    fold_5s = fold_seconds(args.fold_rows, "g")
    log.close()

    cores = os.cpu_count() or 1
    print(f"bundle {bundle}; provider {scorer.provider}; {cores} CPUs; log in {log_dir}")
    print(f"\nbatch of {BATCH:,} (reasons off): medians of {REPEATS}")
    print(f"{'stage':<40} {'ms/batch':>9} {'us/decl':>8} {'decl/s alone':>13}")
    for name, seconds in batch.items():
        per_decl = seconds / BATCH
        print(f"{name:<40} {seconds * 1e3:>9.1f} {per_decl * 1e6:>8.1f} {1 / per_decl:>13,.0f}")
    stages = [k for k in batch if not k.startswith(("parse JSON", "features", "ONNX"))]
    total = sum(batch[k] for k in stages) / BATCH
    fold = batch[FOLD_STAGE] / BATCH
    fold_share = fold / (total - fold)
    goal = max(0.5 * bare_rate, 20_000.0)
    print(
        f"\ndurable log: {written / 1024:.1f} KiB per declaration "
        f"({written * goal / 2**20:,.0f} MiB/s at the goal rate)"
    )
    print(
        f"stages a declaration must pass (validate, job, process, commit, answer): "
        f"{total * 1e6:.1f} us on one core = {1 / total:,.0f} decl/s; "
        f"spread perfectly over {cores} cores {cores / total:,.0f} decl/s, no HTTP"
    )
    print(f"folding into the live state adds {fold_share:.1%} to the other stages (goal <= 15 %)")
    print(
        f"goal: >= half the bare scorer ({bare_rate:,.0f} rows/s) and >= 20,000/s ="
        f" {goal:,.0f} decl/s: {1e6 / goal:.1f} us per declaration for the whole server"
    )
    print(f"\nmicro-batch of {MICRO} single requests (reasons off): medians of {REPEATS}")
    print(f"{'stage':<40} {'ms/batch':>9} {'us/req':>8}")
    for name, seconds in micro.items():
        print(f"{name:<40} {seconds * 1e3:>9.2f} {seconds / MICRO * 1e6:>8.1f}")
    per_request = sum(micro.values()) / MICRO
    print(f"stages per request: {per_request * 1e6:.0f} us on one core")
    print(
        f"\nlive state: folding {args.fold_rows:,} declarations at once (5,000: 5 s of traffic at"
        f" 1,000/s, the default fold_interval_s) {fold_5s * 1e3:.1f} ms ="
        f" {fold_5s / args.fold_rows * 1e6:.1f} us per declaration"
    )
    if args.noop_rps:
        print(
            f"goal: single requests/s >= half the empty POST ({args.noop_rps:,.0f}/s): the"
            f" stages may add at most the empty POST's own {1e6 / args.noop_rps:.0f} us per"
            " request on the event loop"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
