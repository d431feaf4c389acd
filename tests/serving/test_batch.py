"""POST /v1/score/batch: invalid items reported by index and field path, the rest scored."""

from __future__ import annotations

import copy
import json
import sqlite3

import numpy as np
import pytest

from serving.batch_body import read_batch
from serving.schemas import DECLARATION
from serving.scoring import Scorer
from tests.serving.conftest import RISK, headers


def test_bad_rows_are_reported_and_good_rows_scored(client, records, trained, settings) -> None:
    good = copy.deepcopy(records[100:106])
    bad_type = {**records[106], "customs_value": "12.5"}
    unknown = {**records[107], "colour": "red"}
    missing = {k: v for k, v in records[108].items() if k != "importer_id"}
    deep = copy.deepcopy(records[109])
    deep["ens"] = {"versions": [{**deep["ens"]["versions"][0], "filed_at": "yesterday"}]}
    items = [
        good[0],
        bad_type,
        good[1],
        unknown,
        7,
        good[2],
        missing,
        deep,
        *good[3:],
    ]
    r = client.post("/v1/score/batch", json={"declarations": items}, headers=headers(RISK))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["results"]] == [0, 2, 5, 8, 9, 10]
    errors = {(e["index"], tuple(e["loc"])) for e in body["errors"]}
    assert errors == {
        (1, ("customs_value",)),
        (3, ("colour",)),
        (4, ()),
        (6, ("importer_id",)),
        (7, ("ens", "versions", 0, "filed_at")),
    }
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    batch = scorer.score_records(good, reasons=False)
    got = np.array([x["score"] for x in body["results"]])
    np.testing.assert_allclose(got, batch.score, atol=1e-6)
    # one transaction: one timestamp and one request id for the whole batch
    ids = tuple(x["decision_id"] for x in body["results"])
    with sqlite3.connect(settings.decision_db) as conn:
        rows = conn.execute(
            f"SELECT decided_at, request_id FROM decisions WHERE decision_id IN"
            f" ({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
    assert len(rows) == len(ids)
    assert len(set(rows)) == 1


def test_a_batch_of_only_invalid_items_scores_nothing(client) -> None:
    r = client.post("/v1/score/batch", json={"declarations": [{}, []]}, headers=headers(RISK))
    assert r.status_code == 200
    body = r.json()
    assert body["results"] == []
    assert body["model"] is None
    assert {e["index"] for e in body["errors"]} == {0, 1}


@pytest.mark.parametrize("with_invalid", [False, True])
def test_a_declaration_repeated_in_a_batch_is_scored_once(client, records, with_invalid) -> None:
    """Both validation paths (one pass when all are valid, item by item otherwise)."""
    a, b = records[120], records[121]
    items = [a, b, copy.deepcopy(a), {"declaration_id": 5}, b] if with_invalid else [a, b, a]
    r = client.post("/v1/score/batch", json={"declarations": items}, headers=headers(RISK))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["results"]] == [0, 1]
    repeats = [e for e in body["errors"] if e["type"] == "duplicate_declaration"]
    assert [(e["index"], e["loc"]) for e in repeats] == [(2, ["declaration_id"])] + (
        [(4, ["declaration_id"])] if with_invalid else []
    )
    assert repeats[0]["msg"] == "declaration_id repeats item 0 of this batch"
    assert [e["index"] for e in body["errors"]] == sorted(e["index"] for e in body["errors"])


def test_oversize_and_empty_batches_are_refused(client) -> None:
    r = client.post("/v1/score/batch", json={"declarations": [{}] * 10_001}, headers=headers(RISK))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "declarations"]
    r = client.post("/v1/score/batch", json={"declarations": []}, headers=headers(RISK))
    assert r.status_code == 422


def test_large_batch_is_scored_in_one_request(client, records) -> None:
    r = client.post(
        "/v1/score/batch",
        json={"declarations": records[:500]},
        params={"reasons": "false"},
        headers=headers(RISK),
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 500
    assert body["errors"] == []
    assert all(x["reasons"] is None for x in body["results"])


@pytest.mark.parametrize(
    ("content", "loc"),
    [
        (b"{not json", ["body", 1]),
        (b"", ["body", 0]),
        (b"[]", ["body"]),
        (b"null", ["body"]),
        (b'{"declarations": [], "more": 1}', ["body", "declarations"]),
        (b'{"declarations": [{}], "more": 1}', ["body", "more"]),
        (b'{"items": [{}]}', ["body", "declarations"]),
        (b"\xff\xfe", ["body", 0]),
        (b"\xc3\x28", ["body"]),
    ],
)
def test_malformed_batch_bodies_are_422_with_their_path(client, content, loc) -> None:
    r = client.post(
        "/v1/score/batch",
        content=content,
        headers={**headers(RISK), "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]]


def test_batch_body_must_be_json(client, records) -> None:
    body = json.dumps({"declarations": copy.deepcopy(records[:2])})
    for content_type, status in [
        ("text/plain", 422),
        ("application/json; charset=utf-8", 200),
        ("application/vnd.customs+json", 200),
    ]:
        r = client.post(
            "/v1/score/batch",
            content=body,
            headers={**headers(RISK), "content-type": content_type},
        )
        assert r.status_code == status, (content_type, r.text)


def test_an_all_valid_batch_is_validated_in_one_pass(records) -> None:
    items = copy.deepcopy(records[:20])
    body = json.dumps({"declarations": items}).encode()
    fast = read_batch(body, "application/json")
    assert fast.valid
    assert fast.declarations == [DECLARATION.validate_python(x) for x in items]
    items[3]["customs_value"] = "12"
    slow = read_batch(json.dumps({"declarations": items}).encode(), None)
    assert not slow.valid
    assert slow.declarations == items  # as sent: validated one by one by the route
