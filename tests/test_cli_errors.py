"""Every command given a missing input ends ``error: ...`` with exit code 2, no traceback
(issue 14), and none creates a tracking store where there was none."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from targeting.cli import app

MISSING = "/nonexistent/targeting-test-input"


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--world", MISSING],
        ["train", "--declarations", MISSING, "--mapping", MISSING],
        ["ingest", "--declarations", MISSING, "--mapping", MISSING, "--out", "{tmp}/out"],
        ["score", "--declarations", MISSING, "--out", "{tmp}/s.csv"],
        ["serve", "--model", MISSING],
        ["promote", "1"],
        ["runs"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_missing_input_is_an_error(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGETING_MLRUNS_DIR", str(tmp_path / "mlruns"))
    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1].startswith("error: "), result.output
    assert not (tmp_path / "mlruns").exists()
