"""Slow clients are bounded (a real server): a request head trickled past the header
timeout is cut, a body that stops arriving is answered 408, connections beyond the cap
are answered 503, and none of it slows the others."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.serving.conftest import RISK
from tests.serving.live_server import LiveServer, live_server

HEADER_S = 1.0
BODY_S = 1.0
CAP = 6


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory) -> LiveServer:
    with live_server(
        trained,
        tmp_path_factory.mktemp("slow"),
        TARGETING_HEADER_TIMEOUT_S=str(HEADER_S),
        TARGETING_BODY_TIMEOUT_S=str(BODY_S),
        TARGETING_MAX_CONNECTIONS=str(CAP),
    ) as s:
        yield s


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sends until it closes, and how long that took."""
    began, out = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except OSError:
        pass
    sock.close()
    return out, time.monotonic() - began


@pytest.mark.parametrize("sent", [b"", b"POST /v1/score HTTP/1.1\r\nHost: t\r\nX-API-"])
def test_a_head_not_sent_in_time_is_cut(server, sent) -> None:
    sock = _connect(server)
    sock.sendall(sent)
    answer, waited = _until_closed(sock)
    assert answer == b""
    assert HEADER_S * 0.8 <= waited < HEADER_S + 3


def test_a_head_trickled_after_a_kept_alive_answer_is_cut(server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}'):
        first += sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next head, never finished
    answer, waited = _until_closed(sock)
    assert answer == b""
    assert waited < HEADER_S + 3


def test_a_stalled_body_is_408(server) -> None:
    sock = _connect(server)
    sock.sendall(
        b"POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        + f"X-API-Key: {RISK}\r\nContent-Length: 1000\r\n\r\n".encode()
        + b'{"declaration_id": '
    )
    answer, waited = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"stalled" in answer
    assert BODY_S * 0.8 <= waited < BODY_S + 3


def test_connections_beyond_the_cap_are_503_and_others_go_on(server) -> None:
    idle = [_connect(server) for _ in range(CAP)]
    try:
        time.sleep(0.2)
        beyond = httpx.get(f"{server.url}/healthz", timeout=10)
        assert beyond.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
