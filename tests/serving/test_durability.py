"""Every acknowledged decision survives SIGKILL: a real uvicorn process is killed under
load and each decision a client received is found in the decision log."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import KEYS, PEPPER, RISK, headers

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(trained, tmp_path):
    port = _free_port()
    db = tmp_path / "decisions.sqlite"
    env = {
        **os.environ,
        "TARGETING_MODEL_URI": str(trained.bundle),
        "TARGETING_DECISION_DB": str(db),
        "TARGETING_DEVICE": "cpu",
        "TARGETING_API_KEY_PEPPER": PEPPER,
        "TARGETING_API_KEYS": json.dumps(KEYS),
        "TARGETING_MODEL_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "serving.app:app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("server did not become ready")
    yield proc, url, db
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_acknowledged_decisions_survive_sigkill(server, records) -> None:
    proc, url, db = server
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(offset: int, batch: bool) -> None:
        with httpx.Client(base_url=url, headers=headers(RISK), timeout=10) as http:
            i = offset
            while not stop.is_set():
                try:
                    if batch:
                        chunk = [records[(i + k) % len(records)] for k in range(8)]
                        r = http.post("/v1/score/batch", json={"declarations": chunk})
                        ids = [x["decision_id"] for x in r.json()["results"]]
                    else:
                        r = http.post("/v1/score", json=records[i % len(records)])
                        ids = [r.json()["decision_id"]]
                except (httpx.TransportError, json.JSONDecodeError):
                    return  # the server is gone: nothing acknowledged
                if r.status_code == 200:
                    with lock:
                        acknowledged.extend(ids)
                i += 1

    threads = [threading.Thread(target=load, args=(k * 37, k % 2 == 1)) for k in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 150
    with sqlite3.connect(db) as conn:
        logged = {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
    missing = set(acknowledged) - logged
    assert not missing, f"{len(missing)} acknowledged decisions are not in the log"
