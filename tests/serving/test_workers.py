"""Worker processes on one decision log: one random arm, one threshold, one model.

Two apps on the same files stand for two worker processes: each has its own model,
engine, selector, id generator and SQLite connections, and they share only the files
(as ``targeting serve --workers 2`` does). That a declaration scored by one reaches the
other's features is tested in ``test_live_folding``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.app import create_app
from serving.workers import NoDelayH11, ReloadSignal
from targeting.cli import app as cli
from tests.serving.conftest import ADMIN, RISK, Trained, headers, make_settings

SHARED = {
    "selection_seed": None,  # no configured key: the processes must share a made one
    "selection_sync_s": 0.05,
    "reload_poll_s": 0.05,
    "batch_max_wait_ms": 0.0,
}


def _engine(client: TestClient) -> Any:
    return client.app.state.serving.engine  # type: ignore[attr-defined]


def _threshold(client: TestClient) -> float:
    state = client.app.state.serving  # type: ignore[attr-defined]
    return state.engine.peek_selector(state.holder.current).threshold


def _score(client: TestClient, rows: list[dict[str, Any]]) -> None:
    body = {"declarations": rows}
    r = client.post("/v1/score/batch?reasons=false", json=body, headers=headers(RISK))
    assert r.status_code == 200, r.text


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_two_workers_share_the_random_arm_and_the_threshold(
    trained: Trained, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = make_settings(trained, tmp_path, **SHARED)
    ids = [r["declaration_id"] for r in records]
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert _engine(a)._arm.draws(ids) == _engine(b)._arm.draws(ids)
        for k in range(0, 400, 40):  # alternate: each logs half the decisions
            _score(a if k % 80 else b, records[k : k + 40])
        time.sleep(2 * SHARED["selection_sync_s"])  # the documented delay
        for client in (a, b):  # what the next batch does first: take the others' scores in
            state = client.app.state.serving  # type: ignore[attr-defined]
            window = state.engine.selector(state.holder.current)._sorted
            assert len(window) == 400  # its own 200 and the other's 200
        assert _threshold(a) == _threshold(b)
        shared, draws = _threshold(a), _engine(a)._arm.draws(ids)
    with TestClient(create_app(settings)) as restarted:  # primed from the log: one window
        state = restarted.app.state.serving  # type: ignore[attr-defined]
        assert state.engine.selector(state.holder.current).threshold == shared
        assert _engine(restarted)._arm.draws(ids) == draws


def test_windows_without_sync_diverge(
    trained: Trained, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The check above can fail: without the tail each window holds its own scores."""
    settings = make_settings(trained, tmp_path, **{**SHARED, "selection_sync_s": 0.0})
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        _score(a, records[:200])
        _score(b, records[200:210])
        window = _engine(b).peek_selector(b.app.state.serving.holder.current)._sorted
        assert len(window) == 10


def test_a_reload_on_one_worker_reaches_the_other(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(trained, tmp_path, **SHARED)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        before = b.app.state.serving.holder.current.load_id
        r = a.post(
            "/v1/admin/reload", json={"model_uri": str(trained.bundle)}, headers=headers(ADMIN)
        )
        assert r.status_code == 200, r.text
        assert _until(lambda: b.app.state.serving.holder.current.load_id != before)
        registry = a.app.state.serving.metrics.registry
        time.sleep(4 * SHARED["reload_poll_s"])
        swapped = registry.get_sample_value("targeting_model_reloads_total", {"outcome": "swapped"})
        assert swapped == 1  # a does not follow its own generation again
    latest = ReloadSignal(settings.decision_db).latest()
    assert latest is not None
    assert latest.model_uri == str(trained.bundle)


def test_serve_with_workers_checks_the_model_then_starts_them(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, Any] = {}

    def fake_run(application: Any, **kwargs: Any) -> None:
        calls["app"], calls["kwargs"] = application, kwargs

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("TARGETING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TARGETING_DEVICE", "cpu")
    monkeypatch.setenv("TARGETING_LIVE_STATE_DIR", str(tmp_path / "live-state"))
    for name, value in (("MODEL_URI", trained.bundle), ("WORKERS", 2), ("PORT", 8124)):
        monkeypatch.setenv(f"TARGETING_{name}", str(value))  # restored after: the CLI sets them
    monkeypatch.delenv("TARGETING_ONNX_THREADS", raising=False)  # removed after: the CLI sets it
    result = CliRunner().invoke(
        cli, ["serve", "--model", str(trained.bundle), "--workers", "2", "--port", "8124"]
    )
    assert result.exit_code == 0, result.output
    assert calls["app"] == "serving.app:app_from_env"
    assert calls["kwargs"]["factory"] is True
    assert calls["kwargs"]["workers"] == 2
    assert os.environ["TARGETING_MODEL_URI"] == str(trained.bundle)  # what workers read
    assert os.environ["TARGETING_ONNX_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    latest = ReloadSignal(tmp_path / "serving" / "decisions.sqlite").latest()
    assert latest is not None
    assert latest.model_uri == str(trained.bundle)
    assert list((tmp_path / "live-state").glob("*/CURRENT"))  # checked, state saved


def test_serve_with_workers_refuses_a_missing_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", str(tmp_path / "none"), "--workers", "2"])
    assert result.exit_code == 2
    assert "refused" in result.output


async def _nodelay_after(protocol_class: type) -> int:
    """TCP_NODELAY of a connection accepted on a socket bound as uvicorn binds it for
    workers (no protocol number), once ``protocol_class`` has it."""
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called
        raise AssertionError

    config = uvicorn.Config(app, http=protocol_class)
    config.load()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
        lambda: protocol_class(config=config, server_state=ServerState(), app_state={}), conn
    )
    try:
        return conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        transport.close()
        client.close()
        listener.close()


def test_worker_connections_answer_without_waiting_for_a_delayed_ack() -> None:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    assert asyncio.run(_nodelay_after(H11Protocol)) == 0  # uvicorn's own, as workers get it
    assert asyncio.run(_nodelay_after(NoDelayH11)) != 0
