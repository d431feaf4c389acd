"""The service's main job on built-in synthetic data, end to end.

Today: generate a world, export it as a foreign administration's CSV files, ingest
them through the documented mapping and check that nothing was lost. Later stages
(features, training, serving) extend this job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from canonical.frames import read_dataset
from canonical.ingest import IngestSummary, ingest_files, load_mapping
from synth import WorldConfig, generate_world, write_world
from synth.export import export_source_files

WORLD_CSV_MAPPING = (
    Path(__file__).resolve().parents[1] / "docs" / "examples" / "world_csv_mapping.yaml"
)


def run_demo(config: WorldConfig, out: Path, say: Callable[[str], None] = print) -> IngestSummary:
    """Generate, export, ingest and compare; returns the ingest summary."""
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
    say(
        f"4. round trip checked: ingested tables equal the generated ones "
        f"({time.perf_counter() - began:.1f} s in all)"
    )
    return report
