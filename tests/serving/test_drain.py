"""SIGTERM drains: requests on keep-alive connections, in flight or sent during the drain,
are all answered (and logged); clients are told to reconnect, then the server stops
listening and exits (a real server under load)."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time

import httpx
import pytest

from tests.serving.conftest import RISK, headers
from tests.serving.live_server import LiveServer, live_server

DRAIN_S = 1.0


@pytest.fixture
def server(trained, tmp_path) -> LiveServer:
    with live_server(trained, tmp_path, TARGETING_SHUTDOWN_DRAIN_S=str(DRAIN_S)) as s:
        yield s


def _kept_alive(port: int) -> socket.socket:
    """A connection that has had one answer and is kept alive, idle."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    head = b""
    while not head.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, "closed before answering"
        head += chunk
    return sock


def _answer(sock: socket.socket) -> bytes:
    """All the server sends until it closes (b"" if it reset or closed unanswered)."""
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except OSError:
        pass
    sock.close()
    return out


def test_sigterm_answers_every_request_sent_on_open_connections(server, records) -> None:
    acknowledged: list[str] = []
    failures: list[str] = []
    after_sigterm: list[int] = []
    closing: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    signalled: list[float] = []

    def load(offset: int, rows: int, pause: float) -> None:
        with httpx.Client(base_url=server.url, headers=headers(RISK), timeout=30) as http:
            i = offset
            while not stop.is_set():
                chunk = [records[(i + k) % len(records)] for k in range(rows)]
                try:
                    if rows == 1:
                        r = http.post("/v1/score", json=chunk[0])
                        ids = [r.json()["decision_id"]]
                    else:
                        r = http.post("/v1/score/batch", json={"declarations": chunk})
                        ids = [x["decision_id"] for x in r.json()["results"]]
                except httpx.ConnectError:
                    return  # no longer listening: the request was never sent
                except httpx.TransportError as exc:
                    with lock:
                        failures.append(type(exc).__name__)
                    return
                with lock:
                    assert r.status_code == 200, r.text
                    acknowledged.extend(ids)
                    if signalled:
                        after_sigterm.append(1)
                        closing.append(r.headers.get("connection", ""))
                if r.headers.get("connection", "") == "close":
                    # Told to reconnect: a client behind a load balancer goes to another
                    # instance (this one's /readyz says draining). Reconnecting here would
                    # race the listener's close at the drain's end, as with any server.
                    return
                i += 7
                time.sleep(pause)  # the connection idles, as a client's between requests

    rows = (200, 50, 50, 1, 1, 1, 1, 1, 1, 1)
    threads = [
        threading.Thread(target=load, args=(k * 31, n, 0.002 * k)) for k, n in enumerate(rows)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    body = json.dumps(records[5]).encode()
    score = (
        f"POST /v1/score HTTP/1.1\r\nHost: t\r\nX-API-Key: {RISK}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    halfway = _kept_alive(server.port)
    halfway.sendall(score[:30])  # a request on its way when the signal comes
    idle = _kept_alive(server.port)
    signalled.append(time.monotonic())
    server.proc.send_signal(signal.SIGTERM)  # mid-load: requests are in flight
    time.sleep(0.3)
    halfway.sendall(score[30:])
    idle.sendall(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")  # a request just after it
    fresh = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    fresh.sendall(score)  # a new connection during the drain: still listening, answered
    assert _answer(halfway).startswith(b"HTTP/1.1 200")
    assert _answer(idle).startswith(b"HTTP/1.1 503")  # draining: not ready
    answered = _answer(fresh)
    assert answered.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in answered.lower()
    server.proc.wait(timeout=30)
    exited = time.monotonic() - signalled[0]
    stop.set()
    for t in threads:
        t.join()
    assert not failures, f"requests cut unanswered: {failures}"
    assert after_sigterm, "nothing was answered during the drain"
    assert "close" in closing  # clients were told to reconnect
    assert DRAIN_S <= exited < DRAIN_S + 15
    with sqlite3.connect(server.db) as conn:
        logged = {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
    assert not set(acknowledged) - logged
