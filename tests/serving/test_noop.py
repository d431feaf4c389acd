"""The baseline endpoint of the latency benchmark: authenticated, does nothing."""

from __future__ import annotations

from tests.serving.conftest import ANALYST, RISK, headers


def test_noop_needs_a_risk_engine_key(client) -> None:
    assert client.post("/v1/noop").status_code == 401
    assert client.post("/v1/noop", headers=headers(ANALYST)).status_code == 403
    reply = client.post("/v1/noop", headers=headers(RISK))
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


def test_noop_is_not_in_the_public_schema(client) -> None:
    assert "/v1/noop" not in client.get("/openapi.json").json()["paths"]
