"""``/metrics`` (the threshold, the score distribution) needs a key outside development:
any role's, as ``X-API-Key`` or ``Authorization: Bearer``; it can be opened by setting."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.conftest import ADMIN, ANALYST, RISK, headers


def _app(**values: object) -> TestClient:
    """An app that is not started (``/metrics`` needs no model)."""
    return TestClient(
        create_app(
            ServingSettings(
                api_key_pepper="p" * 16,
                api_keys={RISK: "risk-engine", ANALYST: "analyst", ADMIN: "admin"},
                **values,
            )
        )
    )


def test_a_key_is_required_by_default() -> None:
    client = _app()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=headers("not-a-key")).status_code == 401
    for key in (RISK, ANALYST, ADMIN):
        reply = client.get("/metrics", headers=headers(key))
        assert reply.status_code == 200
        assert "targeting_http_requests_total" in reply.text
    bearer = client.get("/metrics", headers={"Authorization": f"Bearer {ANALYST}"})
    assert bearer.status_code == 200


@pytest.mark.parametrize(
    "values",
    [{"environment": "development"}, {"metrics_require_key": False}],
    ids=["development", "opened"],
)
def test_development_or_the_setting_opens_it(values) -> None:
    assert _app(**values).get("/metrics").status_code == 200


def test_the_setting_holds_in_development_too() -> None:
    client = _app(environment="development", metrics_require_key=True)
    assert client.get("/metrics").status_code == 401
