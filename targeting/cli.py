"""``targeting``: one command, a sub-command per job.

Each sub-command parses its arguments and calls one library function; heavy imports
happen inside the command so that, e.g., ``targeting serve`` never imports torch.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from targeting.settings import TargetingSettings

app = typer.Typer(
    name="targeting",
    help="Machine-learning targeting for customs risk management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> TargetingSettings:
    return TargetingSettings()


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc


@app.command()
def generate(
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: settings.world_dir).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same world.")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2025-01-01",
    days: Annotated[int, typer.Option(min=7, help="Number of days.")] = 365,
    declarations_per_day: Annotated[
        int, typer.Option(min=10, help="Mean declarations per day.")
    ] = 2800,
) -> None:
    """Write a synthetic customs world (ENS, declarations, controls, ground truth) as Parquet."""
    from synth import WorldConfig, generate_world, write_world

    target = out or _settings().world_dir
    config = WorldConfig(
        seed=seed, start=_parse_date(start), days=days, declarations_per_day=declarations_per_day
    )
    began = time.perf_counter()
    world = generate_world(config)
    paths = write_world(world, target)
    summary = world.summary()
    typer.echo(f"world written to {target} in {time.perf_counter() - began:.1f} s")
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"ground truth (never an input): {paths['truth']}")


@app.command()
def ingest(
    declarations: Annotated[Path, typer.Option(help="Declarations file (CSV or Parquet).")],
    mapping: Annotated[Path, typer.Option(help="Mapping YAML: canonical field -> source column.")],
    out: Annotated[Path, typer.Option(help="Output directory for canonical Parquet and rejects.")],
    ens: Annotated[Path | None, typer.Option(help="ENS file, one row per goods item.")] = None,
    controls: Annotated[Path | None, typer.Option(help="Control results file.")] = None,
) -> None:
    """Validate and convert an administration's own files into the canonical model."""
    from canonical.ingest import IngestError, ingest_files

    try:
        summary = ingest_files(declarations, mapping, out, ens=ens, controls=controls)
    except IngestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(summary.render())


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working directory of the demo.")] = Path("data/demo"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 120,
    declarations_per_day: Annotated[int, typer.Option(min=10)] = 1000,
) -> None:
    """Run the main job on built-in synthetic data (generate, export, ingest, check)."""
    from synth import WorldConfig
    from targeting.demo import run_demo

    run_demo(
        WorldConfig(seed=seed, days=days, declarations_per_day=declarations_per_day),
        out,
        typer.echo,
    )
