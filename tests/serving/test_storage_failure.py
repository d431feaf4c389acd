"""A storage that refuses writes is answered 503 with Retry-After, never 500, and
``/readyz`` says so until the storage takes writes again (a real server whose file size
limit is lowered under it: its writes fail as on a full disk)."""

from __future__ import annotations

import resource
import sqlite3

import httpx
import pytest

from serving.examples import EXAMPLE_CONTROL_RESULT
from tests.serving.conftest import ANALYST, RISK, headers
from tests.serving.live_server import LiveServer, live_server

UNLIMITED = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)


@pytest.fixture
def server(trained, tmp_path) -> LiveServer:
    with live_server(trained, tmp_path) as s:
        yield s


def _decisions(server: LiveServer) -> int:
    with sqlite3.connect(server.db) as conn:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


def test_a_full_storage_is_503_and_not_ready_until_it_recovers(server, records) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/v1/score", json=records[0], headers=headers(RISK)).status_code == 200
        logged = _decisions(server)
        # no write may pass the first 4 KiB of any file: the WAL's next frame cannot be written
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        try:
            batch = {"declarations": records[1:20]}
            refused = http.post("/v1/score/batch", json=batch, headers=headers(RISK))
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["retry-after"]) > 0
            assert "storage unavailable" in refused.json()["detail"]
            result = {**EXAMPLE_CONTROL_RESULT, "control_id": "C-STORAGE-1"}
            control = http.post(
                "/v1/control-results", json={"results": [result]}, headers=headers(ANALYST)
            )
            assert control.status_code == 503, control.text
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["decision_log"]["ok"] is False
            assert ready.json()["decision_log"]["error"]
            assert http.get("/healthz").status_code == 200  # the process itself is fine
        finally:
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, UNLIMITED)
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["decision_log"] == {"ok": True, "error": None}
        assert http.post("/v1/score", json=records[30], headers=headers(RISK)).status_code == 200
    assert _decisions(server) == logged + 1  # the refused batch left nothing behind
