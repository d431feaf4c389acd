"""The hints name ``targeting`` the way that runs from here (issue 14: `targeting runs` was
suggested where ``targeting`` is not on PATH)."""

from __future__ import annotations

from pathlib import Path

import pytest

from targeting.invocation import command_name


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``.venv/bin/targeting`` under the working directory."""
    script = tmp_path / ".venv" / "bin" / "targeting"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    return script


def test_not_on_path_gives_the_relative_path(program: Path) -> None:
    assert command_name(str(program), path="/usr/bin:/bin") == ".venv/bin/targeting"


def test_on_path_gives_the_plain_name(program: Path) -> None:
    assert command_name(str(program), path=f"{program.parent}:/usr/bin") == "targeting"


def test_another_targeting_on_path_is_not_taken_for_this_one(program: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "targeting"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert command_name(str(program), path=str(other.parent)) == ".venv/bin/targeting"


def test_outside_the_working_directory_gives_the_absolute_path(
    program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert command_name(str(program), path="/usr/bin") == str(program.resolve())


def test_run_another_way_keeps_the_plain_name() -> None:
    assert command_name("/usr/lib/python3/pytest", path="") == "targeting"
