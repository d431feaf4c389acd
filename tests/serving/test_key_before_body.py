"""The key is checked before the body is read: a 30 MiB body without a key is answered
401 at once, and the service keeps answering others meanwhile (a real server)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from serving.examples import EXAMPLE_CONTROL_RESULT
from tests.serving.conftest import ADMIN, ANALYST, RISK, headers
from tests.serving.live_server import LiveServer, live_server

BIG = 30 * 1024 * 1024
ROUTES = ("/v1/score", "/v1/control-results", "/v1/admin/reload")


def _big_json() -> bytes:
    """30 MiB of valid JSON, many small objects: slow to parse."""
    one = b'{"a": 1, "b": [1, 2]},'
    body = b"[" + one * (BIG // len(one)) + b"{}]"
    return body + b" " * (BIG - len(body)) if len(body) < BIG else body


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory) -> LiveServer:
    with live_server(trained, tmp_path_factory.mktemp("key-first")) as s:
        yield s


def _post_unread(port: int, path: str, body: bytes, key: str | None) -> tuple[bytes, float]:
    """POST ``body`` on a raw socket, reading the answer while the body is being sent
    (as a client streaming an upload); the status line and the seconds from the first
    byte sent to the answer's head."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n" + (f"X-API-Key: {key}\r\n" if key else "") + "\r\n"
    ).encode()

    def send() -> None:
        with contextlib.suppress(OSError):  # the server answered and closed, not reading it
            sock.sendall(body)

    began = time.perf_counter()
    sock.sendall(head)
    sender = threading.Thread(target=send)
    sender.start()
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    elapsed = time.perf_counter() - began
    sock.close()
    sender.join()
    return answer.split(b"\r\n", 1)[0], elapsed


def _healthz_worst(url: str, stop: threading.Event, worst: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        while not stop.is_set():
            began = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            worst[0] = max(worst[0], time.perf_counter() - began)
            time.sleep(0.002)


@contextmanager
def _healthz_timed(url: str) -> Iterator[list[float]]:
    """The slowest /healthz answer while the block runs (from a thread polling it)."""
    stop, worst = threading.Event(), [0.0]
    probe = threading.Thread(target=_healthz_worst, args=(url, stop, worst))
    probe.start()
    time.sleep(0.1)
    try:
        yield worst
    finally:
        stop.set()
        probe.join()


def _best_of(attempts: int, attempt: Callable[[int], tuple[float, ...]]) -> tuple[float, ...]:
    """The attempt whose slowest timing is least: this machine is shared, so one slow
    run may be another process's doing; the stalls these tests catch happen every time."""
    return min((attempt(i) for i in range(attempts)), key=max)


@pytest.mark.parametrize("path", ROUTES)
def test_a_large_body_without_a_key_is_refused_at_once(server: LiveServer, path: str) -> None:
    body = _big_json()
    _post_unread(server.port, path, b"{}", None)  # a first connection: nothing to warm

    def attempt(_: int) -> tuple[float, float]:
        with _healthz_timed(server.url) as worst:
            status, elapsed = _post_unread(server.port, path, body, None)
            time.sleep(0.3)  # whatever the server still does with the body, /healthz is timed
        assert status.startswith(b"HTTP/1.1 401"), status
        return elapsed, worst[0]

    elapsed, healthz = _best_of(3, attempt)
    assert elapsed < 0.05, f"answered after {elapsed * 1000:.0f} ms"
    assert healthz < 0.05, f"/healthz waited {healthz * 1000:.0f} ms"


def test_a_key_without_the_role_is_refused_before_the_body(server: LiveServer) -> None:
    status, elapsed = _post_unread(server.port, "/v1/score", _big_json(), ANALYST)
    assert status.startswith(b"HTTP/1.1 403"), status
    assert elapsed < 0.05


def test_a_body_over_the_route_limit_is_413_before_it_is_read(server: LiveServer) -> None:
    status, elapsed = _post_unread(server.port, "/v1/admin/reload", _big_json(), ADMIN)
    assert status.startswith(b"HTTP/1.1 413"), status  # 64 KiB at most
    assert elapsed < 0.05
    reply = httpx.post(
        f"{server.url}/v1/score",
        content=b"{" + b" " * (9 * 1024 * 1024) + b"}",
        headers={**headers(RISK), "content-type": "application/json"},
    )
    assert reply.status_code == 413
    assert "larger than" in reply.json()["detail"]


def test_a_large_invalid_body_reads_as_a_small_one(server: LiveServer) -> None:
    """Control results over 64 KiB are validated in a thread (serving.guard): their errors
    read as those of a small body, validated by FastAPI."""
    results = [{**EXAMPLE_CONTROL_RESULT, "control_id": f"C-BAD-{i}"} for i in range(1_000)]
    results[7] = {**results[7], "controlled_at": 1_740_000_000}
    for body in ({"results": results}, {"results": results[5:9]}):  # over and under 64 KiB
        reply = httpx.post(f"{server.url}/v1/control-results", json=body, headers=headers(ANALYST))
        assert reply.status_code == 422
        locs = [e["loc"] for e in reply.json()["detail"]]
        assert locs == [["body", "results", 7 if len(body["results"]) > 4 else 2, "controlled_at"]]
