"""`targeting serve` and `targeting demo` at start-up (issue 14): a busy port is refused
before any slow work, a service with no API key warns how to add one, and the demo's
decision log lies at ``<out>/serving/decisions.sqlite`` (not ``serving/serving``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

import targeting.demo
from serving.settings import ServingSettings
from targeting import cli

DEMO_ENV = (
    "TARGETING_API_KEYS",
    "TARGETING_API_KEY_HASHES",
    "TARGETING_API_KEY_PEPPER",
    "TARGETING_EXPLORATION_KEY",
    "TARGETING_DATA_DIR",
    "TARGETING_DECISION_DB",
)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the variables the demo sets (the whole environment is restored after every
    test by tests/conftest.py, whatever the test sets)."""
    for name in DEMO_ENV:
        monkeypatch.delenv(name, raising=False)


def _no_pipeline(*args: object, **kwargs: object) -> None:
    pytest.fail("the demo's pipeline must not run")


def test_serve_refuses_a_busy_port_before_loading(busy_port: int, monkeypatch) -> None:
    monkeypatch.setattr(uvicorn, "run", _no_pipeline)
    monkeypatch.setattr("serving.model_holder.load_model", _no_pipeline)
    result = CliRunner().invoke(cli.app, ["serve", "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: port {busy_port} on 127.0.0.1 is in use")


def test_demo_refuses_a_busy_port_before_its_pipeline(busy_port: int, monkeypatch) -> None:
    monkeypatch.setattr(targeting.demo, "run_demo", _no_pipeline)
    result = CliRunner().invoke(cli.app, ["demo", "--port", str(busy_port)])
    assert result.exit_code == 2, result.output
    assert f"port {busy_port} on 127.0.0.1 is in use" in result.output


def test_serve_without_keys_warns_how_to_add_one(
    trained, clean_env, free_port, monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("TARGETING_DATA_DIR", str(tmp_path))
    args = ["serve", "--model", str(trained.bundle), "--port", str(free_port)]
    args += ["--device", "cpu"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "warning: no API key configured" in result.stderr
    assert "TARGETING_API_KEYS=" in result.stderr


def test_serve_with_a_key_does_not_warn(
    trained, clean_env, free_port, monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("TARGETING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TARGETING_API_KEYS", '{"a-key-for-the-test": "admin"}')
    monkeypatch.setenv("TARGETING_API_KEY_PEPPER", "p" * 24)
    args = ["serve", "--model", str(trained.bundle), "--port", str(free_port)]
    args += ["--device", "cpu"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "no API key" not in result.output


def test_demo_decision_log_is_not_under_serving_twice(clean_env, monkeypatch, tmp_path) -> None:
    seen: dict[str, Path] = {}

    def fake_serve(**kwargs: object) -> None:
        seen["db"] = ServingSettings().decision_db

    monkeypatch.setattr(targeting.demo, "run_demo", lambda *a, **k: None)
    monkeypatch.setattr(cli, "serve", fake_serve)
    result = CliRunner().invoke(cli.app, ["demo", "--out", str(tmp_path / "demo"), "--port", "0"])
    assert result.exit_code == 0, result.output
    assert seen["db"] == tmp_path / "demo" / "serving" / "decisions.sqlite"
