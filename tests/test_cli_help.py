"""Every command's --help reads as plain text at 80 columns (issue 14): no reST backticks,
no option name cut short to fit a box."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from targeting.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_is_plain_and_whole(command: str) -> None:
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "``" not in result.output
    assert "…" not in result.output
    if command:
        options = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
        for option in options:
            if isinstance(option, click.Option):
                for name in option.opts:
                    assert name in result.output, name
