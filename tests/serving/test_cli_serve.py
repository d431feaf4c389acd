"""`targeting serve`: loads and checks the model before listening; refuses clearly."""

from __future__ import annotations

import shutil

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from targeting.cli import app


def _cuda_works() -> bool:
    import onnxruntime as ort

    providers = ort.get_available_providers()
    return "CUDAExecutionProvider" in providers and shutil.which("nvidia-smi") is not None


def test_serve_loads_the_model_then_runs_uvicorn(trained, tmp_path, monkeypatch) -> None:
    calls = {}

    def fake_run(application, **kwargs):
        calls["app"], calls["kwargs"] = application, kwargs

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("TARGETING_DECISION_DB", str(tmp_path / "d.sqlite"))
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--model",
            str(trained.bundle),
            "--port",
            "8123",
            "--device",
            "cpu",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "CPUExecutionProvider" in result.output
    assert isinstance(calls["app"], FastAPI)
    assert calls["kwargs"]["port"] == 8123
    assert calls["kwargs"]["access_log"] is False


def test_serve_refuses_a_missing_model(tmp_path) -> None:
    result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "refused" in result.output


@pytest.mark.skipif(_cuda_works(), reason="CUDA works here: nothing to refuse")
def test_require_gpu_refuses_to_start_without_cuda(trained, monkeypatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    result = CliRunner().invoke(app, ["serve", "--model", str(trained.bundle), "--require-gpu"])
    assert result.exit_code == 2
    assert "CUDA is required" in result.output


def test_bad_settings_are_reported_without_their_values(monkeypatch) -> None:
    monkeypatch.setenv("TARGETING_API_KEYS", '{"super-secret-key": "admin"}')
    monkeypatch.setenv("TARGETING_API_KEY_PEPPER", "short")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "api_key_pepper" in result.output
    assert "super-secret-key" not in result.output
