"""``targeting``: one command, a sub-command per job.

Each sub-command parses its arguments and calls one library function; heavy imports
happen inside the command so that, e.g., ``targeting serve`` never imports torch.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from targeting.invocation import command_name
from targeting.logs import configure as configure_logging
from targeting.settings import TargetingSettings

if TYPE_CHECKING:
    from serving.live import LiveScorer
    from serving.settings import ServingSettings

app = typer.Typer(
    name="targeting",
    help="Machine-learning targeting for customs risk management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no option names cut to fit boxes at 80 columns
)


# --dask-workers of the commands that take --dask (score, train, backtest)
DaskWorkers = Annotated[
    int | None, typer.Option(min=1, help="Workers of --dask local (default: the cores).")
]


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show MLflow's and alembic's INFO lines.")
    ] = False,
) -> None:
    """Machine-learning targeting for customs risk management."""
    configure_logging(TargetingSettings().log_level, verbose)


def _settings() -> TargetingSettings:
    return TargetingSettings()


def _fail(message: str) -> NoReturn:
    """Print ``error: message`` and end with exit code 2 (bad input, never a traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _problem(exc: Exception, path: Path | None = None) -> str:
    """``<file>: <problem>`` for an I/O or format error, naming the file it concerns."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return text if path is None or text.startswith(str(path)) else f"{path}: {text}"


def _read_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean a file could not be read or written (not a bug)."""
    import pyarrow as pa

    return (OSError, ValueError, pa.ArrowException)


def _port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound now (something listens there), checked the way
    uvicorn binds (SO_REUSEADDR), so a busy port is reported before any slow work."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _busy_port_message(host: str, port: int) -> str:
    return f"port {port} on {host} is in use: stop what listens there, or give --port"


NO_KEYS_WARNING = (
    "warning: no API key configured: every call but /healthz, /readyz and /metrics will be"
    " answered 401. Add one at start-up, e.g.\n"
    '  TARGETING_API_KEYS=\'{"<key>": "admin"}\' TARGETING_API_KEY_PEPPER=<16+ random'
    " characters> targeting serve\n"
    "or store digests only in TARGETING_API_KEY_HASHES (see README, 'The scoring service')"
)


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
    drift_scheme: Annotated[
        str,
        typer.Option(
            help="The scheme that starts mid-period: origin_laundering (looks like earlier"
            " fraud) or concealment (nothing in the declared fields betrays it)."
        ),
    ] = "origin_laundering",
    drift_start: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="When it starts, as a share of the days.")
    ] = 0.5,
) -> None:
    """Write a synthetic customs world (ENS, declarations, controls, ground truth) as Parquet."""
    from synth import WorldConfig, generate_world, write_world
    from synth.config import DRIFT_SCHEMES

    if drift_scheme not in DRIFT_SCHEMES:
        _fail(f"--drift-scheme {drift_scheme}: choose one of {', '.join(DRIFT_SCHEMES)}")
    target = out or _settings().world_dir
    config = WorldConfig(
        seed=seed,
        start=_parse_date(start),
        days=days,
        declarations_per_day=declarations_per_day,
        drift_scheme=drift_scheme,  # type: ignore[arg-type]
        drift_start_fraction=drift_start,
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
        _fail(str(exc))
    except _read_errors() as exc:
        _fail(_problem(exc, out))
    typer.echo(summary.render())


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working directory of the demo.")] = Path("data/demo"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 120,
    declarations_per_day: Annotated[
        int, typer.Option(min=10, help="Mean declarations per day.")
    ] = 1000,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the champion at the end.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
) -> None:
    """Run the main job on built-in synthetic data: generate, ingest, train, promote, serve."""
    import secrets

    from synth import WorldConfig
    from targeting.demo import curl_example, run_demo

    settings = _settings()
    if serve_after and _port_in_use("127.0.0.1", port):
        _fail(_busy_port_message("127.0.0.1", port))
    config = WorldConfig(seed=seed, days=days, declarations_per_day=declarations_per_day)
    run_demo(config, out, settings.mlruns_dir, typer.echo, command_name())
    if not serve_after:
        return
    import os

    key = os.environ.get("TARGETING_DEMO_KEY") or secrets.token_urlsafe(16)
    os.environ.setdefault("TARGETING_API_KEYS", json.dumps({key: "admin"}))
    os.environ.setdefault("TARGETING_API_KEY_PEPPER", secrets.token_urlsafe(24))
    os.environ.setdefault("TARGETING_EXPLORATION_KEY", secrets.token_urlsafe(24))
    os.environ.setdefault("TARGETING_DATA_DIR", str(out))  # the log: out/serving/decisions...
    typer.echo("8. serving the champion; try:")
    typer.echo(curl_example(out, port, key))
    serve(model=None, host="127.0.0.1", port=port, require_gpu=False, device=None)


def _progress_step() -> tuple[object, object]:
    """A rich progress display and a step context manager for long jobs."""
    import contextlib

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())

    @contextlib.contextmanager
    def step(name: str):  # noqa: ANN202
        task = progress.add_task(name, total=1)
        yield
        progress.update(task, completed=1, description=f"[green]{name}")

    return progress, step


@app.command()
def train(
    world: Annotated[
        Path | None, typer.Option(help="Canonical directory (generate/ingest output).")
    ] = None,
    declarations: Annotated[
        Path | None, typer.Option(help="Declarations file, with --mapping.")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML of the source files.")] = None,
    controls: Annotated[Path | None, typer.Option(help="Control results file.")] = None,
    ens: Annotated[Path | None, typer.Option(help="ENS file (one row per goods item).")] = None,
    ipw: Annotated[bool, typer.Option(help="Weight training rows by 1/propensity.")] = False,
    calibration: Annotated[str, typer.Option(help="platt or isotonic.")] = "platt",
    cross_fit: Annotated[
        bool,
        typer.Option(
            help="Cross-fit training rows' label statistics by time blocks (docs/features.md)."
        ),
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option(
            help="Train on Dask: 'local' (a LocalCluster) or a scheduler address: the history's"
            " features by time blocks on the workers, the trees with lightgbm.dask"
            " (docs/scale-out.md)."
        ),
    ] = None,
    dask_workers: DaskWorkers = None,
) -> None:
    """Train LightGBM + network + blend, evaluate on the latest window, register a version."""
    import tempfile

    from rich.console import Console
    from rich.table import Table

    from canonical.ingest import IngestError
    from training.evaluate import summary_line
    from training.sources import canonical_frames, ingested_frames
    from training.train import TrainConfig
    from training.train import train as run_training

    settings = _settings()
    source: dict[str, str] = {}
    if world is not None:
        if not world.is_dir():
            _fail(f"{world}: no such directory")
        try:
            frames = canonical_frames(world)
        except _read_errors() as exc:
            _fail(_problem(exc, world))
        source["source"] = str(world)
    elif declarations is not None and mapping is not None:
        # The canonical copy is read into memory, so it is removed before training starts.
        with tempfile.TemporaryDirectory(prefix="targeting-ingest-") as work:
            try:
                frames, summary = ingested_frames(declarations, mapping, Path(work), controls, ens)
            except IngestError as exc:
                _fail(str(exc))
            except _read_errors() as exc:
                _fail(_problem(exc, declarations))
        typer.echo(summary.render())
        source = {"source": str(declarations), "mapping": str(mapping)}
    else:
        _fail("give --world DIR, or --declarations FILE with --mapping FILE")
    progress, step = _progress_step()
    config = TrainConfig(ipw=ipw, calibration=calibration, cross_fit=cross_fit)
    from targeting.dask_cluster import describe, optional_client

    if dask is not None:
        source["dask"] = dask
    try:
        with optional_client(dask, dask_workers) as client, progress:  # type: ignore[attr-defined]
            if client is not None:
                typer.echo(f"training on Dask: {describe(client)}")
            result = run_training(
                frames,
                settings.mlruns_dir,
                config,
                source,
                step,  # type: ignore[arg-type]
                client=client,
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    table = Table(title=f"test window: model version {result.registered.version} (challenger)")
    table.add_column("metric")
    for name in ("blend", "lgbm", "network", "baseline"):
        table.add_column(name, justify="right")
    m = result.metrics
    for key in (
        "precision_at_1",
        "precision_at_5",
        "recall_at_5",
        "revenue_at_5",
        "precision_at_10",
        "recall_at_10",
        "revenue_at_10",
        "pr_auc",
        "roc_auc",
    ):
        table.add_row(
            key,
            *[
                f"{m.get(f'test_{n}_{key}', float('nan')):.3f}"
                for n in ("blend", "lgbm", "network", "baseline")
            ],
        )
    table.add_row("base rate", *[f"{m.get('test_blend_base_rate', 0):.3f}"] * 4)
    Console().print(table)
    typer.echo(f"test window: {summary_line(m)}")
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    typer.echo(f"run {result.registered.run_id}; steps: {steps}")
    typer.echo(f"promote with: {command_name()} promote {result.registered.version}")


@app.command()
def promote(version: Annotated[str, typer.Argument(help="Registered model version.")]) -> None:
    """Move the champion alias to VERSION."""
    from training.tracking import promote as move_champion

    try:
        previous = move_champion(_settings().mlruns_dir, version)
    except Exception as exc:  # mlflow raises its own exception types
        typer.echo(f"error: cannot promote version {version}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"champion: version {version}" + (f" (was {previous})" if previous else ""))


@app.command()
def retrain(
    history: Annotated[
        Path | None, typer.Option(help="Canonical directory of the history (generate/ingest).")
    ] = None,
    decision_db: Annotated[
        Path | None,
        typer.Option(
            help="The service's decision log (and control store) to fold in; default"
            " DATA_DIR/serving/decisions.sqlite when it exists."
        ),
    ] = None,
    declarations: Annotated[
        Path | None, typer.Option(help="Declarations file, with --mapping (instead of a log).")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML of the source files.")] = None,
    controls: Annotated[Path | None, typer.Option(help="Control results file.")] = None,
    ens: Annotated[Path | None, typer.Option(help="ENS file (one row per goods item).")] = None,
    window_days: Annotated[int, typer.Option(min=7, help="Rolling training window.")] = 180,
    eval_weeks: Annotated[int, typer.Option(min=1, help="Latest weeks held out.")] = 4,
    metric: Annotated[
        str, typer.Option(help="The gate's metric, e.g. precision@5.")
    ] = "precision@5",
    margin: Annotated[
        float, typer.Option(help="Promote when the difference's lower bound exceeds it.")
    ] = 0.0,
) -> None:
    """Fold the service's results into the history, train a challenger on a rolling window,
    compare it with the champion on the held-out weeks, promote it only when better."""
    import tempfile

    from rich.console import Console
    from rich.table import Table

    from canonical.ingest import IngestError
    from models.bundle import BundleError
    from serving.log_frames import logged_frames
    from training.retrain import RetrainConfig, estimates_table, merge_frames
    from training.retrain import retrain as run_retrain
    from training.sources import canonical_frames, ingested_frames

    settings = _settings()
    frames: dict = {}
    source: dict[str, str] = {}
    try:
        if history is not None:
            frames = canonical_frames(history)
            source["history"] = str(history)
        if declarations is not None and mapping is not None:
            with tempfile.TemporaryDirectory(prefix="targeting-ingest-") as work:
                new, summary = ingested_frames(declarations, mapping, Path(work), controls, ens)
            typer.echo(summary.render())
            frames = merge_frames(frames, new)
            source.update(declarations=str(declarations), mapping=str(mapping))
        log = decision_db or settings.data_dir / "serving" / "decisions.sqlite"
        if decision_db is not None or log.is_file():
            logged = logged_frames(log)
            frames = merge_frames(frames, logged)
            source["decision_db"] = str(log)
            typer.echo(
                f"decision log {log}: {len(logged.get('declarations', [])):,} declarations,"
                f" {len(logged['controls']):,} control results"
            )
    except IngestError as exc:
        _fail(str(exc))
    except _read_errors() as exc:
        _fail(_problem(exc))
    if "declarations" not in frames or "controls" not in frames:
        _fail("give --history DIR and/or a decision log, or --declarations with --mapping")
    config = RetrainConfig(
        window_days=window_days, eval_weeks=eval_weeks, metric=metric, margin=margin
    )
    try:
        result = run_retrain(frames, settings.mlruns_dir, config, source, progress=typer.echo)
    except (ValueError, BundleError, FileNotFoundError) as exc:
        _fail(str(exc))
    table = Table(title=f"held-out weeks from {result.window['held_out_start'][:10]} (IPS)")
    shown = estimates_table(result.evaluation)
    for col in ("metric", "challenger", "interval", "champion", "interval "):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for _, row in shown.iterrows():
        old = (
            (f"{row['champion']:.3f}", f"{row['champion_low']:.3f}..{row['champion_high']:.3f}")
            if "champion" in row
            else ("", "")
        )
        table.add_row(
            row["metric"],
            f"{row['challenger']:.3f}",
            f"{row['challenger_low']:.3f}..{row['challenger_high']:.3f}",
            *old,
        )
    Console(width=120).print(table)
    typer.echo(
        "estimates of what controls would find on all traffic (detection below 1);"
        f" rows: {result.counts}"
    )
    verdict = "promoted to champion" if result.promoted else "not promoted"
    typer.echo(f"challenger version {result.challenger} {verdict}: {result.reason}")
    typer.echo(f"MLflow run {result.run_id} (experiment targeting-retrain)")


@app.command()
def rollback() -> None:
    """Give the champion alias back to the previous champion (the alias history)."""
    from training.tracking import rollback as restore

    try:
        restored, demoted = restore(_settings().mlruns_dir)
    except LookupError as exc:
        _fail(str(exc))
    typer.echo(f"champion: version {restored}" + (f" (was {demoted})" if demoted else ""))


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many recent runs.")] = 10,
    output: Annotated[
        str,
        typer.Option("--format", help="table (fits the terminal, 80 columns piped), csv, json."),
    ] = "table",
) -> None:
    """Compare recent training runs (test-window metrics of the blend)."""
    import sys

    from targeting.runs_table import FORMATS, as_csv, as_json, table
    from training.tracking import ModelNotFoundError, recent_runs, require_store

    if output not in FORMATS:
        _fail(f"--format {output}: choose one of {', '.join(FORMATS)}")
    mlruns_dir = _settings().mlruns_dir
    try:
        store = require_store(mlruns_dir).resolve()
    except ModelNotFoundError as exc:
        _fail(str(exc))
    found = recent_runs(mlruns_dir, limit)
    typer.echo(f"{len(found)} run(s) in {store}", err=output != "table")
    if output == "csv":
        typer.echo(as_csv(found))
    elif output == "json":
        typer.echo(as_json(found))
    elif found:
        width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 80
        typer.echo(table(found, width))


@app.command()
def backtest(
    world: Annotated[Path, typer.Option(help="A generated world (targeting generate).")],
    weeks: Annotated[int, typer.Option(min=1, help="Weeks replayed (the world's last).")] = 8,
    inspection_rate: Annotated[
        float, typer.Option(min=0.0001, max=1.0, help="Controls budget: share of each week.")
    ] = 0.05,
    exploration: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the budget explored.")
    ] = 0.0,
    exploration_max: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Let drift (score PSI and unseen parties of the previous week) raise the"
            " exploration share from --exploration up to this bound.",
        ),
    ] = None,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            help="EXPLOIT[+EXPLORE]: probability or revenue, + random or uncertainty"
            " (repeat to compare several)."
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            help="Compare the issue's three: model only; model + random; model +"
            " uncertainty (at --exploration, 0.1 when not given); with --exploration-max,"
            " also model + random raised by drift."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed: same world and seed, same figures.")] = 0,
    rounds: Annotated[int, typer.Option(min=1, help="Boosting rounds of each weekly model.")] = 100,
    detection_recall: Annotated[
        float, typer.Option(help="Weekly recall on the drifting scheme that counts as caught.")
    ] = 0.5,
    dask: Annotated[
        str | None,
        typer.Option(
            help="Run on Dask: 'local' or a scheduler address: the history's features by time"
            " blocks and every weekly tree model on the workers (docs/scale-out.md)."
        ),
    ] = None,
    dask_workers: DaskWorkers = None,
) -> None:
    """Replay a generated world week by week: score from the live state, select the budget,
    reveal only the selected, retrain; compare strategies against the truth."""
    from rich.console import Console
    from rich.table import Table

    from training.backtest import (
        BacktestConfig,
        BacktestWorld,
        Strategy,
        issue_strategies,
        run_backtest,
    )
    from training.backtest_log import log_backtest

    settings = _settings()
    try:
        chosen = (
            issue_strategies(exploration or 0.1, exploration_max)
            if compare
            else [
                Strategy.parse(s, exploration, exploration_max)
                for s in (strategy or ["probability"])
            ]
        )
        loaded = BacktestWorld.load(world)
    except ValueError as exc:
        _fail(str(exc))
    except _read_errors() as exc:
        _fail(_problem(exc, world))
    config = BacktestConfig(
        weeks=weeks,
        inspection_rate=inspection_rate,
        seed=seed,
        rounds=rounds,
        detection_recall=detection_recall,
    )
    from targeting.dask_cluster import describe, optional_client

    try:
        with optional_client(dask, dask_workers) as client:
            if client is not None:
                typer.echo(f"backtest on Dask: {describe(client)}")
            runs = run_backtest(loaded, chosen, config, progress=typer.echo, client=client)
    except ValueError as exc:
        _fail(str(exc))
    run_id, summary = log_backtest(settings.mlruns_dir, str(world), loaded, runs, config)
    table = Table(title=f"backtest: {weeks} weeks at {inspection_rate:.1%} (weekly means)")
    columns = {
        "precision": "P",
        "recall": "R",
        "revenue": "revenue",
        "hits_share_of_best": "hits/best",
        "revenue_share_of_best": "rev/best",
        "scheme_recall": "scheme R",
        "weeks_to_detection": "weeks to detect",
        "exploration_share": "explored",
        "ips_precision": "IPS P",
        "true_detectable_precision": "true detectable P",
    }
    table.add_column("strategy")
    for header in columns.values():
        table.add_column(header, justify="right")
    for _, row in summary.iterrows():
        table.add_row(row["strategy"], *[f"{row[c]:.3f}" for c in columns])
    Console(width=160).print(table)
    typer.echo(
        f"weeks to detection: the first week, counted from the backtest week in which"
        f" {loaded.drift_scheme} starts, whose selection holds >= {detection_recall:g} of"
        " that week's declarations of the scheme (nan: never)"
    )
    typer.echo(f"MLflow run {run_id} (experiment targeting-backtest)")


@app.command()
def score(
    declarations: Annotated[Path, typer.Option(help="Declarations to score (no label needed).")],
    out: Annotated[Path, typer.Option(help="Output CSV.")],
    mapping: Annotated[
        Path | None, typer.Option(help="Mapping YAML; omit for canonical Parquet.")
    ] = None,
    ens: Annotated[Path | None, typer.Option(help="ENS file of these declarations.")] = None,
    controls: Annotated[
        Path | None,
        typer.Option(help="Canonical controls Parquet: results known since the last run."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Bundle path or models:/ URI; default champion.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="Live feature state folder (default TARGETING_LIVE_STATE_DIR)."),
    ] = None,
    frozen: Annotated[
        bool,
        typer.Option(help="Score from the bundle's training-end state; fold and save nothing."),
    ] = False,
    reasons: Annotated[
        bool, typer.Option(help="Top 3 reason codes per row (TreeSHAP: the costliest stage).")
    ] = True,
    dask: Annotated[
        str | None,
        typer.Option(
            help="Score on Dask: 'local' (a LocalCluster) or a scheduler address. --declarations"
            " and --out are then folders of Parquet partitions (docs/scale-out.md)."
        ),
    ] = None,
    dask_workers: DaskWorkers = None,
) -> None:
    """Score new declarations: id, score, expected revenue, risk band, top 3 reason codes.

    Every row gets the per-row checks of 'ingest' (canonical Parquet included): only the
    valid rows are scored and the others are explained in <out stem>.rejects.csv. Scoring
    reads the model's live feature state: the declarations scored before (and the control
    results given with --controls) are folded in, these ones after their own features
    are computed, and the state is saved for the next run. A mapping's label section is
    ignored here. Declarations that link an ENS (ens_id) need --ens: without it they are
    scored as if no ENS was filed, flagged ens_status=not_sent, and a warning says so.
    An --out ending in .parquet gets Parquet with unrounded scores.
    """
    if dask is not None:
        if mapping is not None or ens is not None:
            _fail("--dask reads canonical partitions (ENS beside each): drop --mapping and --ens")
        _score_partitioned(
            declarations, out, controls, model, state, frozen, reasons, dask, dask_workers
        )
        return
    import tempfile

    from canonical.frames import read_table
    from canonical.ingest import REJECTS_FILE, IngestError, IngestSummary
    from canonical.ingest.canonical_source import ingest_canonical
    from features.live import STALE_AFTER_DAYS
    from features.timebase import to_seconds
    from models.bundle import BundleError, read_bundle
    from serving.ens_status import NOT_SENT
    from serving.live import open_live_scorer
    from serving.scoring import served_table
    from training.sources import canonical_frames, ingested_frames
    from training.tracking import resolve_model_ref

    settings = _settings()
    rejects = rejects_path(out)
    with tempfile.TemporaryDirectory(prefix="targeting-score-") as tmp:
        work = Path(tmp)
        summary: IngestSummary
        try:
            if mapping is not None:
                frames, summary = ingested_frames(
                    declarations, mapping, work / "canonical", ens=ens, use_label=False
                )
            else:
                summary = ingest_canonical(declarations, work / "canonical", ens=ens)
                frames = canonical_frames(work / "canonical")
            rejects.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / "canonical" / REJECTS_FILE, rejects)
        except IngestError as exc:
            _fail(str(exc))
        except _read_errors() as exc:
            _fail(_problem(exc, declarations))
        try:
            results = read_table(controls, "controls") if controls is not None else None
        except _read_errors() as exc:
            _fail(_problem(exc, controls))
        report = summary.tables["declarations"]
        counts = f"{report.rejected:,} rejected{report.reasons_text}"
        if report.accepted == 0:
            _fail(f"{declarations}: no valid declaration to score; {counts} -> {rejects}")
        root = state or settings.live_state_dir
        try:
            bundle, named = resolve_model_ref(settings.mlruns_dir, model, work / "model")
            opened = open_live_scorer(read_bundle(bundle), root)
        except (BundleError, FileNotFoundError) as exc:
            _fail(str(exc))
        scorer, live = opened.scorer, opened.live
        d = frames["declarations"].sort_values("lodged_at", kind="stable")
        f, i = frames.get("ens_filings"), frames.get("ens_items")
        if frozen:
            past = live.stale_days(to_seconds(d["lodged_at"]))
            if past > STALE_AFTER_DAYS:
                typer.echo(
                    f"warning: rows lie up to {past:.0f} days past the feature state's end"
                    " and --frozen folds nothing: activity counts read as if every party"
                    " had gone quiet",
                    err=True,
                )
        else:
            live.fold(d, results, f, i)  # each row still sees only facts strictly before it
        batch = scorer.score_frame(frames["declarations"], f, i, reasons=reasons)
        as_parquet = out.suffix == ".parquet"
        table = served_table(batch, frames["declarations"], f, rounded=not as_parquet)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if as_parquet:
                table.to_parquet(out, index=False)
            else:
                table.to_csv(out, index=False)
            saved = None if frozen else live.save(root)
        except OSError as exc:
            _fail(_problem(exc, out))
    typer.echo(f"scored {len(table):,} of {report.read:,}; {counts} -> {rejects}")
    ens_report = summary.tables.get("ens")
    if ens_report is not None and ens_report.rejected:
        typer.echo(f"ENS: {ens_report.rejected:,} of {ens_report.read:,} rejected -> {rejects}")
    typer.echo(f"scores of {named} on {scorer.provider} -> {out}")
    not_sent = int((table["ens_status"] == NOT_SENT).sum())
    if not_sent:
        typer.echo(
            f"warning: {not_sent:,} of {len(table):,} declarations link an ENS (ens_id) that"
            f" was not given{'' if ens is None else ' in ' + str(ens)}: their ENS features"
            " read as if none was filed, which changes their scores. Pass the ENS file"
            " with --ens; these rows say ens_status=not_sent in the output",
            err=True,
        )
    if saved is not None:
        typer.echo(_live_state_line(opened, saved))
    typer.echo(table["risk_band"].value_counts().to_string())


def _score_partitioned(
    source: Path,
    out: Path,
    controls: Path | None,
    model: str | None,
    state: Path | None,
    frozen: bool,
    reasons: bool,
    scheduler: str,
    workers: int | None,
) -> None:
    """``targeting score --dask``: partitions validated and scored on the workers, the
    live state folded here between the two (serving.partitioned)."""
    from canonical.frames import read_table
    from models.bundle import BundleError, read_bundle
    from serving.live import open_live_scorer
    from serving.partitioned import find_partitions, score_partitions
    from targeting.dask_cluster import dask_client, describe
    from training.tracking import resolve_model_ref

    settings = _settings()
    try:
        parts = find_partitions(source)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    try:
        results = read_table(controls, "controls") if controls is not None else None
    except _read_errors() as exc:
        _fail(_problem(exc, controls))
    root = state or settings.live_state_dir
    out.mkdir(parents=True, exist_ok=True)
    try:
        # under --out: the workers read the bundle from there (shared storage on a cluster)
        bundle, named = resolve_model_ref(settings.mlruns_dir, model, out / "_model")
        opened = None if frozen else open_live_scorer(read_bundle(bundle), root)
    except (BundleError, FileNotFoundError) as exc:
        _fail(str(exc))
    began = time.perf_counter()
    with dask_client(scheduler, workers) as client:
        typer.echo(f"{len(parts)} partitions of {source} on {describe(client)}")
        run = score_partitions(
            client,
            source,
            out,
            bundle,
            None if opened is None else opened.live,
            root,
            controls=results,
            reasons=reasons,
        )
    read = sum(p.read for p in run.ingested)
    rejected = sum(p.rejected for p in run.ingested)
    refused: dict[str, int] = {}
    for part in run.ingested:
        for reason, count in part.reasons.items():
            refused[reason] = refused.get(reason, 0) + count
    why = "".join(f", {reason} {count:,}" for reason, count in sorted(refused.items()))
    typer.echo(
        f"scored {run.rows:,} of {read:,} in {time.perf_counter() - began:.1f} s"
        f" (validate {run.seconds['ingest']:.1f} s, fold {run.seconds['fold']:.1f} s,"
        f" graph snapshots (on the workers) and save {run.seconds['save']:.1f} s,"
        f" score {run.seconds['score']:.1f} s); {rejected:,} rejected{why}"
        f" -> {out}/<partition>.rejects.csv"
    )
    typer.echo(f"scores of {named} -> {out}/<partition>.parquet")
    peaks = ", ".join(f"{b / 2**30:.2f}" for b in run.worker_peaks().values())
    typer.echo(
        f"peak memory (GiB): this process {run.client_peak_rss / 2**30:.2f}; workers {peaks}"
    )
    not_sent = sum(p.not_sent for p in run.scored)
    if not_sent:
        typer.echo(
            f"warning: {not_sent:,} declarations link an ENS (ens_id) missing from their"
            " partition's ens_filings.parquet: scored as if none was filed"
            " (ens_status=not_sent)",
            err=True,
        )
    if run.state is not None and opened is not None:
        typer.echo(_live_state_line(opened, run.state))


def _live_state_line(opened: LiveScorer, saved: Path) -> str:
    """What ``score`` says of the live state it saved, in one process or on Dask."""
    meta = opened.live.meta
    return (
        f"live feature state {'resumed' if opened.resumed else 'started'} -> {saved}:"
        f" {meta.folded_declarations:,} declarations and {meta.folded_controls:,} results"
        f" folded since training"
    )


def rejects_path(out: Path) -> Path:
    """Where ``score`` explains the rows it refused: ``<out stem>.rejects.csv`` beside ``out``."""
    return out.with_name(f"{out.stem}.rejects.csv")


@app.command()
def serve(
    model: Annotated[
        str | None,
        typer.Option(help="Bundle path or models:/ URI (default: TARGETING_MODEL_URI, champion)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    require_gpu: Annotated[
        bool, typer.Option("--require-gpu", help="Refuse to start unless CUDA scores.")
    ] = False,
    device: Annotated[str | None, typer.Option(help="auto, cuda or cpu.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes sharing the decision log (default: TARGETING_WORKERS,"
            " else the number of cores).",
        ),
    ] = None,
) -> None:
    """Start the scoring API: score, select, explain, log decisions, record control results."""
    import os

    import uvicorn
    from pydantic import ValidationError

    from serving.app import create_app
    from serving.model_holder import ModelLoadError, load_model
    from serving.server import server_options
    from serving.settings import ServingSettings

    _settings()
    given = {"model_uri": model, "host": host, "port": port, "device": device, "workers": workers}
    overrides = {k: v for k, v in given.items() if v is not None}
    if require_gpu:
        overrides["require_gpu"] = True
    try:
        settings = ServingSettings(**overrides)
    except ValidationError as exc:  # field paths and reasons only: inputs may be keys
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        typer.echo(f"error: invalid serving settings: {problems}", err=True)
        raise typer.Exit(code=2) from None
    if _port_in_use(settings.host, settings.port):
        _fail(_busy_port_message(settings.host, settings.port))
    if not (settings.api_key_hashes or settings.api_keys):
        typer.echo(NO_KEYS_WARNING, err=True)
    processes = settings.workers or os.cpu_count() or 1
    if processes > 1:
        _serve_workers(settings, overrides, processes)
        return
    try:
        loaded = load_model(settings.model_uri, settings)
    except ModelLoadError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    _start_generation(settings)
    typer.echo(
        f"serving {loaded.ref.name} version {loaded.ref.version} on {loaded.scorer.provider}"
        f" at http://{settings.host}:{settings.port}"
    )
    # serving.server: access log off (its lines carry ids), drain and slow-client limits
    uvicorn.run(create_app(settings, loaded), **server_options(settings))


def _archive_reader(archive: Path | None) -> object:
    """``serving.archive.read_archive`` bound to ``archive`` (None without one)."""
    if archive is None:
        return None
    import functools

    try:
        from serving.archive import read_archive  # type: ignore[import-not-found]
    except ImportError:
        _fail(f"{archive}: this version reads no decision archive (serving.archive missing)")
    return functools.partial(read_archive, archive)


@app.command()
def report(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD, UTC).")],
    database: Annotated[
        Path | None,
        typer.Option(
            help="The service's decision log (default: DATA_DIR/serving/decisions.sqlite)."
        ),
    ] = None,
    archive: Annotated[
        Path | None, typer.Option(help="The decision log's Parquet archive, read with it.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for indicators.csv and indicators.png.")] = Path(
        "reports"
    ),
) -> None:
    """The EU framework's control indicators for the declarations decided in a period."""
    from datetime import timedelta

    import numpy as np

    from training.indicators import indicators, write_report
    from training.service_log import read_controls, read_decisions

    settings = _settings()
    first, last = _parse_date(start), _parse_date(end)
    if last < first:
        _fail(f"--to {end} is before --from {start}")
    database = database or settings.data_dir / "serving" / "decisions.sqlite"
    try:
        decisions = read_decisions(
            database, first, last + timedelta(days=1), archived=_archive_reader(archive)
        )
        controls = read_controls(database)
    except (OSError, ValueError) as exc:
        _fail(_problem(exc, database))
    if decisions.empty:
        _fail(f"{database}: no decision from {first} to {last}")
    table = indicators(decisions, controls)
    csv, png = write_report(table, out)
    shown = table.assign(
        value=[
            f"{v:,.0f}" if np.isnan(lo) and float(v).is_integer() else f"{v:,.3f}"
            for v, lo in zip(table["value"], table["low"], strict=True)
        ],
        interval=[
            "" if np.isnan(lo) else f"{lo:.3f}-{hi:.3f}"
            for lo, hi in zip(table["low"], table["high"], strict=True)
        ],
        count=[f"{c:,.0f}" if np.isfinite(c) else "" for c in table["count"]],
    )
    typer.echo(shown[["indicator", "group", "value", "interval", "count"]].to_string(index=False))
    typer.echo(
        "rates are what controls find (detection below 1); intervals 95% (binomial, or IPS"
        f" over controls of known propensity)\n-> {csv}\n-> {png}"
    )


@app.command()
def drift(
    model: Annotated[
        str | None,
        typer.Option(help="Bundle path or models:/ URI (default: the serving default, champion)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD; default: 7 days ago).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, included (default: today, UTC).")
    ] = None,
    database: Annotated[
        Path | None,
        typer.Option(
            help="The service's decision log (default: DATA_DIR/serving/decisions.sqlite)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for drift.csv, .json and .png.")] = Path(
        "reports"
    ),
    top: Annotated[int, typer.Option(help="Features listed and plotted.")] = 10,
) -> None:
    """Drift of recent traffic against the model's training data: feature and score PSI,
    unseen parties and codes."""
    from datetime import UTC, timedelta

    from serving.registry import RegistryError, resolve
    from serving.settings import DEFAULT_MODEL_URI
    from training.drift_report import drift_report

    settings = _settings()
    last = _parse_date(end) if end else datetime.now(UTC).date()
    first = _parse_date(start) if start else last - timedelta(days=6)
    if last < first:
        _fail(f"--to {last} is before --from {first}")
    database = database or settings.data_dir / "serving" / "decisions.sqlite"
    try:
        found = resolve(
            model or DEFAULT_MODEL_URI,
            settings.mlruns_dir,
            settings.data_dir / "serving" / "models",
        )
        result = drift_report(found.directory, database, first, last + timedelta(days=1), out, top)
    except RegistryError as exc:
        _fail(str(exc))
    except (OSError, ValueError) as exc:
        _fail(_problem(exc, database))
    s = result.summary
    typer.echo(f"reference: {s['reference']} ({s['reference_rows']:,} rows)")
    typer.echo(f"recent: {s['rows']:,} decisions from {first} to {last}")
    typer.echo(result.table.head(top).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(
        f"score PSI {s['score_psi']:.3f}; feature PSI max {s['psi_max']:.3f}, mean"
        f" {s['psi_mean']:.3f}, {s['psi_count_over_0_25']} over 0.25; unseen parties"
        f" {s['unseen_party_rate']:.3f}, unseen codes {s['unseen_code_rate']:.3f}"
        " (PSI under 0.1 stable, 0.1-0.25 moved, over 0.25 different)"
    )
    for path in result.paths:
        typer.echo(f"-> {path}")


def _start_generation(settings: ServingSettings) -> None:
    """Record the configured model as the newest reload generation: every worker, and any
    the server restarts later, serves it (see serving.workers)."""
    from serving.workers import ReloadSignal

    reloads = ReloadSignal(settings.decision_db)
    try:
        reloads.publish(settings.model_uri)
    finally:
        reloads.close()


def _serve_workers(settings: ServingSettings, overrides: dict[str, object], processes: int) -> None:
    """``processes`` uvicorn workers, each building the app from the environment: the
    model is checked first in a child process (exit 2 if it cannot serve)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    import uvicorn

    from serving.server import server_options
    from serving.workers import NoDelayH11, check_model

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        problem = pool.submit(check_model, settings).result()
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(code=2)
    _start_generation(settings)
    for name, value in overrides.items():  # the workers read their settings from there
        os.environ[f"TARGETING_{name.upper()}"] = "true" if value is True else str(value)
    if settings.onnx_threads is None:  # N workers share the cores: no oversubscription
        os.environ["TARGETING_ONNX_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    typer.echo(
        f"serving {settings.model_uri} with {processes} worker processes"
        f" at http://{settings.host}:{settings.port}"
    )
    options = {**server_options(settings), "http": NoDelayH11}  # drain, slow-client limits
    # NoDelayH11: uvicorn's shared socket would leave Nagle on (40 ms answers)
    uvicorn.run("serving.app:app_from_env", factory=True, workers=processes, **options)
