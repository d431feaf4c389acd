"""Benchmark: the scoring API under load, with wrk against 127.0.0.1, bounded in time.

Measures in one run, on the same machine and rows, so the figures are ratios that hold
on a noisy machine:
- the bare authenticated empty POST (``/v1/noop``): the server's own ceiling;
- ``POST /v1/score`` (one declaration, ENS embedded) at concurrency 1, 8, 32, with
  reasons off and on: requests/s, p50 and p99 latency;
- ``POST /v1/score/batch`` with 1,000 declarations, reasons off: declarations/s;
- in process, the bare ONNX scorer on the feature rows of the same declarations, and
  the whole scoring path without HTTP (features + ONNX), rows/s in batches of 1,000;
- the server's decision-log commit times over the run (from its /metrics): answers
  wait for their commit's fsync, so a slow disk shows in the p99 (``--log-dir /dev/shm``
  takes the disk out, to tell the service's tail from the disk's).

Bars (issue 13, 2-core machine, the log on disk): single requests/s at concurrency 8
without reasons >= 0.45 of the empty-POST rate, p99 <= 12 ms; with reasons p99 <= 25 ms;
batches of 1,000 >= 0.07 of the bare scorer's rows/s. The server runs ``--workers``
processes (default: as ``targeting serve``, the cores).

    python -m benchmarks.serving [--bundle DIR --world DIR] [--seconds 8] [--repeats 3]
        [--log-dir DIR] [--workers N]

Needs wrk (Debian: apt-get install wrk; installed on demand when run as root).
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks.serving_rows import add_arguments, bundle_and_world, request_records

KEY = "bench-risk-engine-key"
PORT = 8093
LUA = """
local bodies = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
request = function()
  i = (i % #bodies) + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
"""


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed: apt-get install wrk")
    return found


def _parse(output: str) -> dict[str, float]:
    def millis(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = millis(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = millis(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": float(errors.group(1)) if errors else 0}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the median over repeated runs (errors: the total)."""
    out = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    out["errors"] = sum(r["errors"] for r in runs)
    return out


def _load(wrk: str, path: str, bodies: Path, script: Path, concurrency: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            "-H",
            f"X-API-Key: {KEY}",
            "-H",
            "Content-Type: application/json",
            f"http://127.0.0.1:{PORT}{path}",
            "--",
            str(bodies),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    return _parse(out)


def _wait_for_workers(count: int, seconds: float = 300.0) -> None:
    """Until ``count`` processes answer (distinct model load times on /v1/model): the
    first worker is ready while the others still load, and a loading one takes a core."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(seen) < count and time.monotonic() < deadline:
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/v1/model", headers={"X-API-Key": KEY}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                seen.add(json.loads(answer.read())["loaded_at"])
        except OSError:
            pass
        time.sleep(0.1)
    if len(seen) < count:
        print(f"only {len(seen)} of {count} workers answered", file=sys.stderr)


def _commit_buckets() -> dict[float, float]:
    """Cumulative counts of the server's decision-log commit-time histogram, by bound."""
    scrape = urllib.request.Request(f"http://127.0.0.1:{PORT}/metrics", headers={"X-API-Key": KEY})
    text = urllib.request.urlopen(scrape, timeout=5).read().decode()
    found = re.findall(r'targeting_decision_log_commit_seconds_bucket\{le="([^"]+)"\} (\S+)', text)
    return {float(bound): float(count) for bound, count in found}


def _commit_summary(before: dict[float, float], after: dict[float, float]) -> str:
    """Commits between two scrapes: how many, and the bucket bounds of p50, p99 and the
    slowest (answers wait for their commit, so its tail is part of the request's)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if not total:
        return "no commits"

    def bound_of(share: float) -> str:
        for b, c in zip(bounds, counts, strict=True):
            if c >= share * total:
                return "inf" if math.isinf(b) else f"{b * 1000:g} ms"
        return "inf"

    slowest = next(b for b, c in zip(bounds, counts, strict=True) if c >= total)
    slow = total - next((c for b, c in zip(bounds, counts, strict=True) if b >= 0.025), total)
    return (
        f"{total:,.0f} commits; p50 <= {bound_of(0.5)}, p99 <= {bound_of(0.99)}, all <= "
        f"{'inf' if math.isinf(slowest) else f'{slowest * 1000:g} ms'}; {slow:,.0f} over 25 ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each load, interleaved; medians reported"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        help="the server's data directory (decision log): e.g. /dev/shm to take the disk's"
        " fsync latency out of the figures; default a temporary directory",
    )
    parser.add_argument("--workers", type=int, help="server processes (default: the cores)")
    args = parser.parse_args()
    wrk = _wrk()
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    atexit.register(shutil.rmtree, work, True)  # removed however the run ends
    bundle, world = bundle_and_world(args, work)

    from serving.scoring import Scorer

    records = request_records(world)
    single = work / "single.jsonl"
    single.write_text("\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n")
    batch = work / "batch.jsonl"
    batch.write_text(
        json.dumps({"declarations": records[:1000]}, separators=(",", ":"))
        + "\n"
        + json.dumps({"declarations": records[1000:]}, separators=(",", ":"))
        + "\n"
    )
    empty = work / "empty.jsonl"
    empty.write_text("{}\n")
    script = work / "bodies.lua"
    script.write_text(LUA)

    # In process: the bare ONNX scorer and the whole path without HTTP, same rows.
    scorer = Scorer.from_bundle(bundle, device="auto")
    from features.inputs import inputs_from_records

    inputs = inputs_from_records(records[:1000], with_ens=scorer.pipeline.with_ens())
    x, codes = scorer.pipeline.transform_inputs(inputs), scorer.encoder.transform(inputs)

    def rate(fn: object, rows: int, repeat: int = 5) -> float:
        fn()  # type: ignore[operator]
        best = min(_timed(fn) for _ in range(repeat))
        return rows / best

    def _timed(fn: object) -> float:
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        return time.perf_counter() - t

    bare = rate(lambda: scorer.onnx.run(x, codes), 1000)
    path = rate(lambda: scorer.score_records(records[:1000], reasons=False), 1000)

    log_dir = Path(tempfile.mkdtemp(prefix="bench-serving-log-", dir=args.log_dir or work))
    env = {
        **os.environ,
        "TARGETING_MODEL_URI": str(bundle),
        "TARGETING_API_KEYS": json.dumps({KEY: "risk-engine"}),
        "TARGETING_API_KEY_PEPPER": "benchmark-pepper-0123456789",
        "TARGETING_DATA_DIR": str(log_dir),
        "TARGETING_LOG_LEVEL": "WARNING",
        "TARGETING_PORT": str(PORT),
        "TARGETING_WORKERS": str(args.workers or os.cpu_count() or 1),
        # the server runs this checkout's code, whatever the installed package points at
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    load_before = f"{os.getloadavg()[0]:.2f}"
    # a file, not a pipe: a pipe nobody reads fills and blocks the server's logging
    server_log = work / "server.log"
    command = shutil.which("targeting") or str(Path(sys.executable).parent / "targeting")
    server = subprocess.Popen(
        [command, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=server_log.open("wb")
    )
    try:
        for _ in range(240):
            try:
                if (
                    urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=1).status
                    == 200
                ):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            sys.exit("server did not become ready: " + server_log.read_text()[-2000:])
        _wait_for_workers(int(env["TARGETING_WORKERS"]))
        s = args.seconds
        commits_before = _commit_buckets()
        rows = []
        for c in (1, 8, 32):
            runs = [
                (
                    _load(wrk, "/v1/noop", empty, script, c, s),
                    _load(wrk, "/v1/score?reasons=false", single, script, c, s),
                    _load(wrk, "/v1/score?reasons=true", single, script, c, s),
                )
                for _ in range(args.repeats)
            ]
            noop, off, on = (_median([r[k] for r in runs]) for k in range(3))
            rows.append((c, noop, off, on))
        batches = _median(
            [
                _load(wrk, "/v1/score/batch?reasons=false", batch, script, 2, s)
                for _ in range(args.repeats)
            ]
        )
        commits = _commit_summary(commits_before, _commit_buckets())
    finally:
        server.terminate()
        try:  # each worker folds and checkpoints its live state first
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            print("the server did not stop within 120 s of SIGTERM: killed", file=sys.stderr)
            server.kill()
            server.wait()
        shutil.rmtree(log_dir, ignore_errors=True)

    print(
        f"bundle {bundle}; provider {scorer.provider}; {os.cpu_count()} CPUs;"
        f" {env['TARGETING_WORKERS']} server processes; wrk -t1, {s} s runs; medians of"
        f" {args.repeats}; load average before {load_before}, after {os.getloadavg()[0]:.2f}"
    )
    print(
        f"\n{'conc':>4} | {'noop rps':>9} | {'score rps':>9} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'+reasons rps':>12} {'p50 ms':>7} {'p99 ms':>7} | score/noop"
    )
    for c, noop, off, on in rows:
        ratio = off["rps"] / noop["rps"]
        print(
            f"{c:>4} | {noop['rps']:>9.0f} | {off['rps']:>9.0f} {off['p50']:>7.2f} "
            f"{off['p99']:>7.2f} | {on['rps']:>12.0f} {on['p50']:>7.2f} {on['p99']:>7.2f} | "
            f"{ratio:>9.2f}"
        )
    decl_rate = batches["rps"] * 1000
    print(
        f"\nbatch of 1,000 (reasons off, 2 connections): {decl_rate:,.0f} declarations/s; "
        f"p50 {batches['p50']:.0f} ms"
    )
    print(
        f"bare ONNX scorer, 1,000 rows: {bare:,.0f} rows/s; features + ONNX in process: "
        f"{path:,.0f} rows/s"
    )
    print(f"batch / bare scorer: {decl_rate / bare:.3f}  (bar >= 0.07)")
    print(f"decision log in {log_dir}: {commits}")
    c8 = rows[1]
    errors = sum(r[k]["errors"] for r in rows for k in (1, 2, 3)) + batches["errors"]
    goals = {
        "single rps >= 0.45 of the empty POST (c=8)": c8[2]["rps"] >= 0.45 * c8[1]["rps"],
        "p99 <= 12 ms at c=8 without reasons": c8[2]["p99"] <= 12,
        "p99 <= 25 ms at c=8 with reasons": c8[3]["p99"] <= 25,
        "batch >= 0.07 of the bare scorer": decl_rate >= 0.07 * bare,
        "no non-2xx responses": errors == 0,
    }
    for goal, ok in goals.items():
        print(f"{'PASS' if ok else 'MISS'}  {goal}")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
