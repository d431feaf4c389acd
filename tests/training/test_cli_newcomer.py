"""What a first-time user meets on the command line (issue 14): errors end ``error: ...``
with exit 2, ``runs`` fits 80 columns and says which store it read, ``score`` names the
registered version, and MLflow/alembic INFO lines only on ``--verbose``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from canonical.frames import write_table
from targeting.cli import app
from training.train import TrainResult

ROOT = Path(__file__).resolve().parents[2]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def store(trained: tuple[TrainResult, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's tracking store (one run, version 1) as TARGETING_MLRUNS_DIR."""
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(trained[1]))
    return trained[1]


@pytest.fixture
def declarations(tmp_path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "declaration_id": ["D1", "D2"],
            "lodged_at": pd.to_datetime(["2025-02-10T10:00:00Z"] * 2),
            "importer_id": ["I1"] * 2,
            "origin_country": ["CN"] * 2,
            "hs_code": ["0406101000"] * 2,
            "customs_value": [100.0] * 2,
            "customs_value_rc": [100.0] * 2,
            "currency": ["EUR"] * 2,
        }
    )
    path = tmp_path / "new.parquet"
    write_table(frame, "declarations", path)
    return path


def _score(declarations: Path, *options: str) -> Result:
    out = declarations.with_name("scores.csv")
    return _invoke("score", "--declarations", str(declarations), "--out", str(out), *options)


def _fails_cleanly(result: Result) -> str:
    """The message of a run that ended ``error: ...`` with exit 2 and no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output
    return result.output


def test_score_missing_bundle_path_is_an_error(declarations: Path, store: Path) -> None:
    message = _fails_cleanly(_score(declarations, "--model", "/tmp/no-such-bundle-here"))
    assert "/tmp/no-such-bundle-here: no such bundle directory" in message


def test_score_missing_version_is_an_error(declarations: Path, store: Path) -> None:
    message = _fails_cleanly(_score(declarations, "--model", "models:/targeting/99"))
    assert "models:/targeting/99: not in the registry" in message


def test_score_without_a_store_is_an_error_and_creates_none(
    declarations: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    message = _fails_cleanly(_score(declarations))
    assert "no tracking store" in message
    assert not (tmp_path / "mlruns").exists()


def test_score_names_the_registered_version(declarations: Path, store: Path) -> None:
    result = _score(declarations, "--frozen")
    assert result.exit_code == 0, result.output
    assert "scores of targeting version 1 (latest; no champion) on" in result.output
    assert "/model/" not in result.output  # not the deleted download folder


def test_runs_fits_80_columns_and_names_its_store(store: Path) -> None:
    result = _invoke("runs")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"1 run(s) in {(store / 'mlflow.db').resolve()}"
    assert lines[1].split()[:3] == ["run", "started", "ver"]
    assert max(len(line) for line in lines[1:]) <= 80
    assert any(line.strip().startswith("window ") for line in lines)


def test_runs_csv_and_json(store: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_invoke("runs", "--format", "csv").stdout)))
    assert [r["version"] for r in rows] == ["1"]
    assert float(rows[0]["precision_at_5"]) >= 0
    (run,) = json.loads(_invoke("runs", "--format", "json").stdout)
    assert run["version"] == "1"
    assert run["run_id"] == rows[0]["run_id"]


def test_runs_and_promote_without_a_store_create_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    assert "no tracking store" in _fails_cleanly(_invoke("runs"))
    assert "no tracking store" in _fails_cleanly(_invoke("promote", "1"))
    assert not (tmp_path / "mlruns").exists()


def test_bad_format_is_an_error(store: Path) -> None:
    assert "--format xml" in _fails_cleanly(_invoke("runs", "--format", "xml"))


@pytest.mark.parametrize("verbose", [False, True])
def test_mlflow_info_lines_only_when_verbose(store: Path, verbose: bool) -> None:
    """In a fresh process (MLflow configures its loggers when first imported)."""
    command = [sys.executable, "-c", "from targeting.cli import app; app()"]
    command += ["--verbose", "runs"] if verbose else ["runs"]
    env = {**os.environ, "TARGETING_MLRUNS_DIR": str(store)}
    env.pop("MLFLOW_LOGGING_LEVEL", None)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    info = [line for line in done.stderr.splitlines() if " INFO " in line]
    assert bool(info) is verbose, done.stderr


def test_score_without_ens_warns_and_records_it(
    frames: dict[str, pd.DataFrame], trained: tuple[TrainResult, Path], tmp_path: Path
) -> None:
    d = frames["declarations"]
    linked = d[d["ens_id"].notna()].tail(4)
    unlinked = d[d["ens_id"].isna()].tail(1)
    path = tmp_path / "linked.parquet"
    write_table(pd.concat([linked, unlinked]), "declarations", path)
    model = str(trained[0].bundle)
    result = _score(path, "--model", model, "--frozen")
    assert result.exit_code == 0, result.output
    assert "warning: 4 of 5 declarations link an ENS (ens_id) that was not given" in result.stderr
    scores = pd.read_csv(path.with_name("scores.csv")).set_index("declaration_id")
    assert (scores.loc[linked["declaration_id"], "ens_status"] == "not_sent").all()
    assert scores.loc[unlinked["declaration_id"].iloc[0], "ens_status"] == "not_filed"
