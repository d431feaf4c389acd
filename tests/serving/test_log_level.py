"""``TARGETING_LOG_LEVEL`` is accepted in any case, by the service and the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from serving.settings import ServingSettings
from targeting.settings import TargetingSettings


@pytest.mark.parametrize("given", ["warning", "Warning", "WARNING", " warning "])
def test_any_case_is_accepted(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGETING_LOG_LEVEL", given)
    assert ServingSettings().log_level == "WARNING"
    assert TargetingSettings().log_level == "WARNING"


def test_an_unknown_level_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="log_level"):
        ServingSettings(log_level="loud")


def test_serve_starts_its_checks_with_a_lower_case_level(tmp_path) -> None:
    """In a fresh process: logging's set-up is skipped where handlers exist (pytest's)."""
    command = "from targeting.cli import app; app()"
    result = subprocess.run(
        [sys.executable, "-c", command, "serve", "--model", str(tmp_path / "none")],
        check=False,
        env={**os.environ, "TARGETING_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]  # the missing model, not the level
    assert "refused" in result.stderr
