"""A declaration id holding "/" (allowed by the schema) is read back like any other."""

from __future__ import annotations

import html

import pytest

from tests.serving.conftest import ANALYST, RISK, headers

SLASHED = "NL/2025/001"


@pytest.fixture(scope="module")
def scored(client, records) -> dict:
    """The answer to scoring a declaration whose id holds "/"."""
    r = client.post(
        "/v1/score", json={**records[3], "declaration_id": SLASHED}, headers=headers(RISK)
    )
    assert r.status_code == 200, r.text
    assert r.json()["declaration_id"] == SLASHED
    return r.json()


@pytest.mark.parametrize("sent", [SLASHED, "NL%2F2025%2F001"])
def test_the_record_of_a_slashed_id_is_found(client, scored, sent) -> None:
    r = client.get(f"/v1/consignments/{sent}", headers=headers(ANALYST))
    assert r.status_code == 200, r.text
    assert r.json()["declaration_id"] == SLASHED
    assert r.json()["decision_id"] == scored["decision_id"]


@pytest.mark.parametrize("sent", [SLASHED, "NL%2F2025%2F001"])
def test_the_explanation_of_a_slashed_id_is_found(client, scored, sent) -> None:
    r = client.get(f"/v1/consignments/{sent}/explanation.html", headers=headers(ANALYST))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert html.escape(SLASHED) in r.text


def test_an_unknown_slashed_id_is_404_and_a_bad_one_422(client, scored) -> None:
    for path in ("/v1/consignments/NL/2025/002", "/v1/consignments/NL/2025/002/explanation.html"):
        r = client.get(path, headers=headers(ANALYST))
        assert r.status_code == 404, (path, r.text)
    r = client.get("/v1/consignments/NL/20 25", headers=headers(ANALYST))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "declaration_id"]


def test_metrics_name_the_route_template_not_the_id(client, scored) -> None:
    client.get(f"/v1/consignments/{SLASHED}", headers=headers(ANALYST))
    text = client.get("/metrics", headers=headers(ANALYST)).text
    assert 'route="/v1/consignments/{declaration_id}",status="200"' in text
    assert "NL/2025" not in text
    assert ":path}" not in text
