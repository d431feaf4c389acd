"""Request metrics are labelled from closed sets: invented methods, paths and ids add no
series to ``/metrics``; the documentation routes are counted as themselves."""

from __future__ import annotations

import re

from tests.serving.conftest import ANALYST, headers

SERIES = re.compile(r"^(targeting_http_[a-z_]+\{[^}]*\})", re.M)


def _series(text: str) -> set[str]:
    """The labelled request series of a ``/metrics`` body."""
    return set(SERIES.findall(text))


def test_invented_methods_add_no_series(client) -> None:
    for i in range(20):  # every kind of request below once, so its series exist
        client.request(f"INVENT{i}", "/v1/score")
        client.request(f"INVENT{i}", f"/no/such/path/{i}")
    client.get("/metrics", headers=headers(ANALYST))
    before = client.get("/metrics", headers=headers(ANALYST)).text
    for i in range(5_000):
        path = "/v1/score" if i % 2 else f"/no/such/path/{i}"
        assert client.request(f"M{i}X", path).status_code in (404, 405)
    after = client.get("/metrics", headers=headers(ANALYST)).text
    assert _series(after) == _series(before), _series(after) ^ _series(before)
    assert len(after) - len(before) < 200  # only the counts grew
    assert 'method="other"' in after
    assert "M17X" not in after
    assert "/no/such/path" not in after


def test_ids_and_documentation_routes_are_labelled_by_template(client) -> None:
    client.get("/v1/consignments/UNSEEN-0001", headers=headers(ANALYST))
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    text = client.get("/metrics", headers=headers(ANALYST)).text
    assert 'route="/v1/consignments/{declaration_id}"' in text
    assert "UNSEEN-0001" not in text
    assert 'targeting_http_requests_total{method="GET",route="/openapi.json",status="200"}' in text
    assert 'targeting_http_requests_total{method="GET",route="/docs",status="200"}' in text
