"""A real uvicorn server process serving the session's bundle, for tests that need real
sockets, concurrency and signals (``python -m serving.server``, as ``targeting serve``
configures uvicorn)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import KEYS, PEPPER, Trained

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    """A started server: its process, base URL, port and decision log."""

    proc: subprocess.Popen[bytes]
    url: str
    port: int
    db: Path


@contextmanager
def live_server(trained: Trained, directory: Path, **env: str) -> Iterator[LiveServer]:
    """A server on a free port, ready (``/readyz`` 200) when entered; killed on exit.
    ``env``: more ``TARGETING_*`` variables."""
    port = free_port()
    db = directory / "decisions.sqlite"
    environ = {
        **os.environ,
        "TARGETING_MODEL_URI": str(trained.bundle),
        "TARGETING_DECISION_DB": str(db),
        "TARGETING_DEVICE": "cpu",
        "TARGETING_API_KEY_PEPPER": PEPPER,
        "TARGETING_API_KEYS": json.dumps(KEYS),
        "TARGETING_MODEL_CACHE_DIR": str(directory / "cache"),
        "TARGETING_LIVE_STATE_DIR": str(directory / "live-state"),
        "TARGETING_HOST": "127.0.0.1",
        "TARGETING_PORT": str(port),
        "TARGETING_LOG_LEVEL": "warning",
        "TARGETING_WARMUP_ROWS": "0",
        **env,
    }
    log = directory / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving.server"], cwd=ROOT, env=environ, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("server did not become ready")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield LiveServer(proc, url, port, db)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
