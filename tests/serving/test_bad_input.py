"""Malformed JSON, wrong types, unknown fields, bad values: 4xx with field paths, no 500."""

from __future__ import annotations

import pytest

from serving.examples import EXAMPLE_DECLARATION
from tests.serving.conftest import RISK, headers


def _post(client, payload=None, content=None):
    kw = {"json": payload} if content is None else {"content": content}
    return client.post(
        "/v1/score", **kw, headers={**headers(RISK), "content-type": "application/json"}
    )


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"customs_value": "100"}, ["body", "customs_value"]),
        ({"customs_value": -1.0}, ["body", "customs_value"]),
        ({"importer_aeo": "yes"}, ["body", "importer_aeo"]),
        ({"origin_country": "XX"}, ["body", "origin_country"]),
        ({"hs_code": "85A7"}, ["body", "hs_code"]),
        ({"lodged_at": "3000-01-01T00:00:00Z"}, ["body", "lodged_at"]),
        ({"lodged_at": "not a time"}, ["body", "lodged_at"]),
        ({"lodged_at": 631152000}, ["body", "lodged_at"]),
        ({"lodged_at": 1.7e9}, ["body", "lodged_at"]),
        ({"lodged_at": "1700000000"}, ["body", "lodged_at"]),
        ({"lodged_at": "2025-03-01"}, ["body", "lodged_at"]),
        ({"transport_mode": "teleport"}, ["body", "transport_mode"]),
        ({"colour": "red"}, ["body", "colour"]),
        ({"ens_id": "OTHER0001"}, ["body", "ens"]),
        ({"declaration_id": ""}, ["body", "declaration_id"]),
        ({"attributes": {"Bad Name": 1.0}}, ["body", "attributes", "Bad Name", "[key]"]),
    ],
)
def test_invalid_fields_are_422_with_their_path(client, change, loc) -> None:
    r = _post(client, {**EXAMPLE_DECLARATION, **change})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert loc in [d["loc"] for d in detail]
    assert all("input" not in d for d in detail)  # values are never echoed


def test_missing_required_field(client) -> None:
    payload = {k: v for k, v in EXAMPLE_DECLARATION.items() if k != "customs_value_rc"}
    r = _post(client, payload)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "customs_value_rc"]


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[]", b"null", b'"text"', b'{"customs_value": NaN}', b"\xff\xfe"],
)
def test_malformed_bodies_are_4xx(client, content) -> None:
    r = _post(client, content=content)
    assert 400 <= r.status_code < 500, r.text


def test_nan_is_refused(client) -> None:
    body = (
        b'{"declaration_id": "A1", "lodged_at": "2025-01-01T00:00:00Z", "importer_id": "I1",'
        b' "origin_country": "CN", "hs_code": "940360", "customs_value": NaN,'
        b' "customs_value_rc": 1.0}'
    )
    r = _post(client, content=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "customs_value"]


def test_extreme_but_valid_values_are_scored(client) -> None:
    minimal = {
        "declaration_id": "EXTREME-1",
        "lodged_at": "2099-12-31T23:59:59",
        "importer_id": "I1",
        "origin_country": "CN",
        "hs_code": "9403600000",
        "customs_value": 1e13,
        "customs_value_rc": 1e13,
        "net_mass_kg": 0.0,
        "supplementary_units": 0.0,
        "duty_rate": 100.0,
    }
    for change in ({}, {"customs_value_rc": 0.0, "net_mass_kg": 1e13}):
        r = _post(client, {**minimal, **change})
        assert r.status_code == 200, r.text
        assert 0 <= r.json()["score"] <= 1


def test_oversize_body_is_413(client) -> None:
    r = client.post(
        "/v1/score",
        content=b"{" + b" " * (65 * 1024 * 1024) + b"}",
        headers={**headers(RISK), "content-type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "content",
    [
        b'{"declarations":[' + b"[" * 100_000,
        b'{"declarations":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        b'{"declarations":[{"attributes":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001 + b"]}",
    ],
    ids=["unclosed", "closed", "nested-object"],
)
def test_deeply_nested_batch_is_422_not_500(client, content) -> None:
    r = client.post(
        "/v1/score/batch",
        content=content,
        headers={**headers(RISK), "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {"loc": ["body"], "msg": "JSON nested too deeply", "type": "json_invalid"}
    ]
