"""The body size limit holds without a Content-Length too (chunked uploads): 413, nothing
scored."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.metrics import Metrics
from serving.middleware import RequestMiddleware
from serving.settings import ServingSettings
from tests.serving.conftest import RISK, Trained, headers, make_settings

LIMIT = 16 * 1024
JSON_HEADERS = {**headers(RISK), "content-type": "application/json"}


def _chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """The body as a generator: httpx sends it chunked, with no Content-Length."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _decisions(settings: ServingSettings) -> int:
    """Rows in the decision log: what was scored."""
    with sqlite3.connect(settings.decision_db) as conn:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


@pytest.fixture(scope="module")
def limited(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    """Settings with a small body limit, so a 100-declaration batch passes it."""
    return make_settings(trained, tmp_path_factory.mktemp("limited"), max_body_bytes=LIMIT)


@pytest.fixture(scope="module")
def small(limited: ServingSettings) -> Iterator[TestClient]:
    """An app serving with the small limit."""
    with TestClient(create_app(limited)) as c:
        yield c


def test_a_chunked_body_under_the_limit_is_scored(small, limited, records) -> None:
    body = json.dumps({"declarations": records[:2]}).encode()
    assert len(body) < LIMIT
    before = _decisions(limited)
    r = small.post("/v1/score/batch?reasons=false", content=_chunks(body), headers=JSON_HEADERS)
    assert "content-length" not in r.request.headers
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 2
    assert _decisions(limited) == before + 2


@pytest.mark.parametrize("path", ["/v1/score/batch?reasons=false", "/v1/score?reasons=false"])
def test_a_chunked_body_over_the_limit_is_413_and_scores_nothing(
    small, limited, records, path
) -> None:
    if path.startswith("/v1/score/batch"):
        body = json.dumps({"declarations": records[:100]}).encode()
    else:  # one declaration padded past the limit with insignificant whitespace
        body = json.dumps(records[0]).encode()[:-1] + b" " * LIMIT + b"}"
    assert len(body) > LIMIT
    before = _decisions(limited)
    r = small.post(path, content=_chunks(body), headers=JSON_HEADERS)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": f"request body larger than {LIMIT} bytes"}
    assert r.headers["x-request-id"]
    assert _decisions(limited) == before


def test_the_413_is_not_sent_once_the_answer_has_started() -> None:
    """An app that answers before reading a too large body keeps its answer: no second
    response start goes out."""
    sent: list[dict[str, Any]] = []
    chunks = [b"x" * 1000, b"x" * 1000]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()  # past the limit: raises
        await send({"type": "http.response.body", "body": b"never"})

    middleware = RequestMiddleware(app, Metrics(), max_body_bytes=1500)
    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert sent[0]["status"] == 200


def test_an_oversize_content_length_is_still_refused(small) -> None:
    r = small.post("/v1/score", content=b"{" + b" " * LIMIT + b"}", headers=JSON_HEADERS)
    assert r.request.headers["content-length"] == str(LIMIT + 2)
    assert r.status_code == 413
    assert r.json() == {"detail": f"request body larger than {LIMIT} bytes"}
