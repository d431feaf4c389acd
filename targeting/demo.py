"""The service's main job on built-in synthetic data, end to end.

Generate a world, export it as a foreign administration's CSV files, ingest them
through the documented mapping and check that nothing was lost; train, register and
promote a model; score the latest declarations with it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from canonical.frames import read_dataset
from canonical.ingest import ingest_files, load_mapping
from serving.scoring import Scorer, scored_table
from synth import WorldConfig, generate_world, write_world
from synth.export import export_source_files
from training.evaluate import summary_line
from training.smoke import smoke_records
from training.tracking import promote
from training.train import train

WORLD_CSV_MAPPING = (
    Path(__file__).resolve().parents[1] / "docs" / "examples" / "world_csv_mapping.yaml"
)


def run_demo(
    config: WorldConfig,
    out: Path,
    mlruns_dir: Path,
    say: Callable[[str], None] = print,
    command: str = "targeting",
) -> Path:
    """Generate, export, ingest and compare, train, promote, score; returns the bundle.
    ``command``: how the hints name the ``targeting`` command (see targeting.invocation)."""
    began = time.perf_counter()
    world = generate_world(config)
    write_world(world, out / "world")
    summary = world.summary()
    say(
        f"1. generated {summary['declarations']:,} declarations, {summary['ens_filings']:,} ENS "
        f"filings, {summary['controls']:,} controls -> {out / 'world'}"
    )
    mapping = load_mapping(WORLD_CSV_MAPPING)
    files = export_source_files(world, mapping, out / "source")
    say(f"2. exported as foreign CSV files -> {out / 'source'}")
    report = ingest_files(
        files["declarations"],
        WORLD_CSV_MAPPING,
        out / "canonical",
        ens=files.get("ens"),
        controls=files.get("controls"),
    )
    say("3. ingested through docs/examples/world_csv_mapping.yaml:")
    say(report.render())
    back = read_dataset(out / "canonical")
    for name in ("declarations", "controls"):
        pd.testing.assert_frame_equal(back[name], world.frame(name), obj=name)
    say("4. round trip checked: ingested tables equal the generated ones")
    result = train(back, mlruns_dir, source={"source": str(out / "canonical")})
    m = result.metrics
    say(
        f"5. trained and registered version {result.registered.version} (challenger): test window"
        f" {summary_line(m)}"
    )
    promote(mlruns_dir, result.registered.version)
    say(f"6. promoted version {result.registered.version} to champion")
    scorer = Scorer.from_bundle(result.bundle)
    latest = back["declarations"].tail(1000)
    table = scored_table(scorer.score_frame(latest, back.get("ens_filings"), back.get("ens_items")))
    table.to_csv(out / "scores.csv", index=False)
    say(f"7. scored the latest 1,000 declarations on {scorer.provider} -> {out / 'scores.csv'}")
    say(table.sort_values("score", ascending=False).head(5).to_string(index=False))
    example = smoke_records(back, np.array([len(back["declarations"]) - 1]))[0]
    (out / "example_declaration.json").write_text(json.dumps(example, indent=1))
    say(f"done in {time.perf_counter() - began:.1f} s; compare runs with: {command} runs")
    return result.bundle


def curl_example(out: Path, port: int, key: str) -> str:
    """The request a national risk engine would send, as a curl command."""
    body = out / "example_declaration.json"
    return (
        f"curl -s -X POST http://127.0.0.1:{port}/v1/score -H 'X-API-Key: {key}' "
        f"-H 'Content-Type: application/json' --data @{body}\n"
        f"then open http://127.0.0.1:{port}/v1/consignments/<declaration_id>/explanation.html "
        f"with the same key (an admin key), or the API docs at http://127.0.0.1:{port}/docs"
    )
