"""`targeting ingest/score/train`: bad rows are reported, bad files end with exit 2, no temp left.

Scoring uses the session's real trained bundle; the declarations are small and made here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from canonical.frames import write_table
from targeting.cli import app
from training.train import TrainResult


@pytest.fixture
def bundle(trained: tuple[TrainResult, Path]) -> str:
    """The session's real trained bundle (tests/training/conftest.py)."""
    return str(trained[0].bundle)


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A temp directory of this test's own, so leftovers can be seen."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _declarations(n: int = 3) -> pd.DataFrame:
    """Valid canonical declarations D1..Dn."""
    return pd.DataFrame(
        {
            "declaration_id": [f"D{i}" for i in range(1, n + 1)],
            "lodged_at": pd.to_datetime(["2025-02-10T10:00:00Z"] * n),
            "importer_id": ["I1"] * n,
            "origin_country": ["CN"] * n,
            "hs_code": ["0406101000"] * n,
            "customs_value": [100.0] * n,
            "customs_value_rc": [100.0] * n,
            "currency": ["EUR"] * n,
        }
    )


def _score(bundle: str, declarations: Path, out: Path, *options: str) -> Result:
    """``targeting score`` of ``declarations`` with the real bundle (and ``options``)."""
    return _invoke(
        "score", "--model", bundle, "--declarations", str(declarations), *options, "--out", str(out)
    )


def _invoke(*args: str) -> Result:
    """Run the ``targeting`` command with ``args``."""
    return CliRunner().invoke(app, list(args))


def test_score_canonical_parquet_scores_only_valid_rows_and_writes_rejects(
    bundle: str, tmp_path: Path
) -> None:
    frame = _declarations(6)
    frame.loc[1, "declaration_id"] = None
    frame.loc[2, "lodged_at"] = pd.NaT
    frame.loc[3, "declaration_id"] = "D1"
    frame.loc[4, "hs_code"] = "610910.0"
    write_table(frame, "declarations", tmp_path / "new.parquet")
    out = tmp_path / "scores.csv"

    run = _score(bundle, tmp_path / "new.parquet", out)

    assert run.exit_code == 0, run.output
    rejects_file = tmp_path / "scores.rejects.csv"
    assert "scored 2 of 6; 4 rejected" in run.output
    assert str(rejects_file) in run.output
    assert pd.read_csv(out)["declaration_id"].tolist() == ["D1", "D6"]
    rejects = pd.read_csv(rejects_file, dtype=str, keep_default_na=False)
    assert rejects[["source_row", "field", "value", "reason"]].values.tolist() == [
        ["2", "declaration_id", "", "missing_required"],
        ["3", "lodged_at", "", "missing_required"],
        ["4", "declaration_id", "D1", "duplicate_id"],
        ["5", "hs_code", "610910.0", "malformed_hs_code"],
    ]


MAPPING = """\
declarations:
  fields:
    declaration_id: id
    lodged_at: date
    importer_id: imp
    origin_country: ctry
    hs_code: hs
    customs_value: val
"""


def test_score_with_mapping_writes_rejects_next_to_out(bundle: str, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "sc.csv").write_text(
        "id,date,imp,ctry,hs,val\n"
        "S1,2025-02-10T10:00:00,I1,CN,0406101000,100.5\n"
        "S2,2025-02-10T10:00:00,I1,ZZ,0406101000,100.5\n"
        "S3,2025-02-10T10:00:00,I1,CN,0406101000,abc\n"
    )
    out = tmp_path / "out" / "scores.csv"
    run = _score(bundle, tmp_path / "sc.csv", out, "--mapping", str(tmp_path / "m.yaml"))

    assert run.exit_code == 0, run.output
    assert "scored 1 of 3; 2 rejected (wrong_type 1, unknown_country 1)" in run.output
    rejects = pd.read_csv(tmp_path / "out" / "scores.rejects.csv", dtype=str)
    assert rejects[["source_row", "field", "reason"]].values.tolist() == [
        ["2", "origin_country", "unknown_country"],
        ["3", "customs_value", "wrong_type"],
    ]
    assert pd.read_csv(out)["declaration_id"].tolist() == ["S1"]


def test_score_and_train_leave_no_temp_dirs(
    bundle: str, private_tmp: Path, tmp_path: Path, monkeypatch
) -> None:
    import training.train

    write_table(_declarations(), "declarations", tmp_path / "new.parquet")
    run = _score(bundle, tmp_path / "new.parquet", tmp_path / "s.csv")
    assert run.exit_code == 0, run.output

    def no_training(*args: object, **kwargs: object) -> None:
        raise ValueError("too few labels")

    monkeypatch.setattr(training.train, "train", no_training)
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "d.csv").write_text("id,date,imp,ctry,hs,val\nS1,2025-02-10,I1,CN,0406101000,1\n")
    run = _invoke(
        "train", "--declarations", str(tmp_path / "d.csv"), "--mapping", str(tmp_path / "m.yaml")
    )
    assert run.exit_code == 2, run.output

    assert list(private_tmp.iterdir()) == []


def _no_traceback(run: Result, message: str) -> None:
    """Exit 2 with an ``error:`` line, not an exception."""
    assert run.exit_code == 2, run.output
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    assert message in run.output
    assert "Traceback" not in run.output


def test_score_csv_without_mapping_is_a_clear_error(bundle: str, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,date\nS1,2025-02-10\n")
    run = _score(bundle, path, tmp_path / "s.csv")
    _no_traceback(run, f"error: {path}: not a readable Parquet file")


def test_score_non_canonical_parquet_is_a_clear_error(bundle: str, tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pd.DataFrame({"id": ["S1"], "val": [1.0]}).to_parquet(path)
    run = _score(bundle, path, tmp_path / "s.csv")
    _no_traceback(run, f"error: {path}: not a canonical declarations table")
    assert "declaration_id" in run.output


def test_train_on_a_missing_world_is_a_clear_error(tmp_path: Path) -> None:
    run = _invoke("train", "--world", str(tmp_path / "nonexist"))
    _no_traceback(run, f"error: {tmp_path / 'nonexist'}: no such directory")


def test_train_on_a_world_with_a_corrupt_table_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "declarations.parquet").write_bytes(b"not parquet")
    run = _invoke("train", "--world", str(tmp_path))
    _no_traceback(run, f"error: {tmp_path}")


def test_ingest_into_an_existing_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "d.csv").write_text("id,date,imp,ctry,hs,val\nS1,2025-02-10,I1,CN,0406101000,1\n")
    (tmp_path / "afile").write_text("")
    run = _invoke(
        "ingest",
        "--declarations",
        str(tmp_path / "d.csv"),
        "--mapping",
        str(tmp_path / "m.yaml"),
        "--out",
        str(tmp_path / "afile"),
    )
    _no_traceback(run, f"error: {tmp_path / 'afile'}: File exists")


def test_score_with_no_valid_row_is_a_clear_error_and_keeps_the_rejects(
    bundle: str, tmp_path: Path
) -> None:
    frame = _declarations(2)
    frame["hs_code"] = ["610910.0", "406101000.0"]
    write_table(frame, "declarations", tmp_path / "new.parquet")
    out = tmp_path / "scores.csv"
    run = _score(bundle, tmp_path / "new.parquet", out)
    _no_traceback(run, "no valid declaration to score; 2 rejected (malformed_hs_code 2)")
    assert not out.exists()
    assert len(pd.read_csv(tmp_path / "scores.rejects.csv")) == 2


def test_score_checks_canonical_ens_rows_too(bundle: str, tmp_path: Path) -> None:
    """Canonical ENS tables given to score get the ingest row checks: a bad item is
    reported beside the declarations' rejects, the rest is scored with its ENS."""
    frame = _declarations(2)
    frame["ens_id"] = ["E1", "E2"]
    write_table(frame, "declarations", tmp_path / "new.parquet")
    filings = pd.DataFrame(
        {
            "filing_id": ["E1", "E2"],
            "version": [1, 1],
            "filed_at": pd.to_datetime(["2025-02-09T10:00:00Z"] * 2),
            "filing_type": ["full"] * 2,
            "transport_mode": ["air"] * 2,
            "carrier_id": ["C1"] * 2,
        }
    )
    items = pd.DataFrame(
        {"filing_id": ["E1", "E2"], "version": [1, 1], "item_no": [1, 1], "hs6": ["040610", "12"]}
    )
    write_table(filings, "ens_filings", tmp_path / "ens_filings.parquet")
    write_table(items, "ens_items", tmp_path / "ens_items.parquet")
    out = tmp_path / "scores.csv"
    run = _score(
        bundle, tmp_path / "new.parquet", out, "--ens", str(tmp_path / "ens_filings.parquet")
    )
    assert run.exit_code == 0, run.output
    assert "scored 2 of 2" in run.output
    assert "ENS: 1 of 2 rejected" in run.output
    rejects = pd.read_csv(tmp_path / "scores.rejects.csv", dtype=str)
    assert rejects[["table", "field", "value", "reason"]].values.tolist() == [
        ["ens", "hs6", "12", "malformed_hs_code"]
    ]
