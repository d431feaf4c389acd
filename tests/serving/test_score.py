"""POST /v1/score and the decision record: same numbers as Scorer and `targeting score`."""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import sys

import numpy as np
import pandas as pd
import pytest

from serving.scoring import Scorer
from tests.serving.conftest import ANALYST, RISK, headers

REASON_KEYS = {"code", "family", "text", "feature", "value", "baseline", "contribution"}


@pytest.fixture(scope="module")
def scorer(trained) -> Scorer:
    return Scorer.from_bundle(trained.bundle, device="cpu")


@pytest.fixture(scope="module")
def answers(client, records) -> list[dict]:
    sample = records[:40]
    out = []
    for record in sample:
        r = client.post("/v1/score", json=record, headers=headers(RISK))
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def test_api_scores_equal_scorer_score_records(answers, records, scorer) -> None:
    batch = scorer.score_records(copy.deepcopy(records[:40]))
    got = np.array([a["score"] for a in answers])
    assert [a["declaration_id"] for a in answers] == list(batch.declaration_id)
    np.testing.assert_allclose(got, batch.score, rtol=0, atol=1e-6)
    revenue = np.array([a["expected_revenue"] for a in answers])
    np.testing.assert_allclose(revenue, batch.expected_revenue, rtol=0, atol=1e-6)
    assert [a["risk_band"] for a in answers] == list(batch.band)
    assert [a["risk_type"] for a in answers] == list(batch.risk_type)


def test_api_scores_equal_the_score_command_on_frames(answers, trained, scorer) -> None:
    """`targeting score` scores canonical frames (score_frame); the API must agree."""
    f = trained.frames
    ids = [a["declaration_id"] for a in answers]
    decl = f["declarations"].set_index("declaration_id").loc[ids].reset_index()
    batch = scorer.score_frame(decl, f["ens_filings"], f["ens_items"], reasons=False)
    got = pd.Series([a["score"] for a in answers], index=ids)
    np.testing.assert_allclose(got.loc[list(batch.declaration_id)], batch.score, atol=1e-6)
    assert sum(r["ens_id"] is not None for r in decl.to_dict("records")) > 10  # ENS exercised


def test_response_carries_decision_reasons_and_model(answers) -> None:
    a = answers[0]
    assert set(a) >= {"decision_id", "declaration_id", "score", "expected_revenue", "risk_band"}
    assert 0 <= a["score"] <= 1
    assert a["decision"]["basis"] in {"model", "random", "none"}
    assert 0 <= a["decision"]["propensity"] <= 1
    assert a["model"]["name"] == "targeting"
    assert a["model"]["version"].startswith("bundle-")
    with_reasons = [x for x in answers if x["reasons"]]
    assert len(with_reasons) > len(answers) // 2
    for x in with_reasons:
        assert 1 <= len(x["reasons"]) <= 3
        for reason in x["reasons"]:
            assert set(reason) == REASON_KEYS
            assert reason["contribution"] > 0
            assert reason["text"]
            assert reason["code"]
            assert reason["feature"]


def test_reasons_can_be_turned_off_per_request(client, records) -> None:
    r = client.post(
        "/v1/score", json=records[0], params={"reasons": "false"}, headers=headers(RISK)
    )
    assert r.status_code == 200
    assert r.json()["reasons"] is None


def test_request_id_is_echoed_or_made(client, records) -> None:
    r = client.post(
        "/v1/score", json=records[1], headers={**headers(RISK), "X-Request-ID": "abc-1"}
    )
    assert r.headers["x-request-id"] == "abc-1"
    r = client.post(
        "/v1/score", json=records[1], headers={**headers(RISK), "X-Request-ID": "bad id\t<>"}
    )
    assert len(r.headers["x-request-id"]) == 32  # a fresh one, not the unsafe value


def test_consignment_returns_the_logged_decision(client, answers, records, scorer) -> None:
    a = answers[3]
    r = client.get(f"/v1/consignments/{a['declaration_id']}", headers=headers(ANALYST))
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["decision_id"] == a["decision_id"]
    assert rec["score"] == pytest.approx(a["score"], abs=1e-12)
    assert rec["decision"]["basis"] == a["decision"]["basis"]
    assert rec["decision"]["propensity"] == a["decision"]["propensity"]
    assert rec["reasons"] == a["reasons"]
    assert len(rec["request_hash"]) == 64
    assert rec["declaration"]["declaration_id"] == a["declaration_id"]
    batch = scorer.score_records([records[3]], reasons=False)
    logged = np.array([np.nan if v is None else v for v in rec["features"].values()])
    assert list(rec["features"]) == scorer.names
    np.testing.assert_allclose(logged, batch.features[0], equal_nan=True)


def test_unknown_consignment_is_404(client) -> None:
    r = client.get("/v1/consignments/NOPE0001", headers=headers(ANALYST))
    assert r.status_code == 404


def test_every_answer_is_in_the_decision_log(client, answers, settings) -> None:
    with sqlite3.connect(settings.decision_db) as conn:
        logged = {row[0] for row in conn.execute("SELECT decision_id FROM decisions")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {a["decision_id"] for a in answers} <= logged
    assert mode == "wal"


def test_request_hash_is_the_sha256_of_the_logged_declaration(
    client, answers, records, settings
) -> None:
    with sqlite3.connect(settings.decision_db) as conn:
        rows = conn.execute(
            "SELECT request_hash, declaration, declaration_id FROM decisions"
        ).fetchall()
    assert rows
    sent = {r["declaration_id"]: r for r in records}
    for digest, declaration, declaration_id in rows:
        assert hashlib.sha256(declaration.encode()).hexdigest() == digest
        stored = json.loads(declaration)
        assert stored["declaration_id"] == declaration_id
        if declaration_id in sent:  # the log keeps the request's fields (nulls dropped)
            expected = {k: v for k, v in sent[declaration_id].items() if v is not None}
            assert set(stored) == set(expected)


def test_explanation_page_is_rendered(client, answers) -> None:
    r = client.get(
        f"/v1/consignments/{answers[0]['declaration_id']}/explanation.html",
        headers=headers(ANALYST),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert answers[0]["declaration_id"] in r.text


def test_explanation_page_is_503_without_the_renderer(client, answers, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "serving.explain", None)  # import now fails
    r = client.get(
        f"/v1/consignments/{answers[0]['declaration_id']}/explanation.html",
        headers=headers(ANALYST),
    )
    assert r.status_code == 503
    assert "render_explanation" in r.json()["detail"]


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 40])
def test_treeshap_split_over_threads_equals_one_call(scorer, records, rows) -> None:
    from serving.scoring import TreeShap

    batch = scorer.score_records(records[:rows], reasons=False)
    x = batch.features
    whole = scorer.booster.predict(x, pred_contrib=True, num_threads=1)[:, :-1]
    split = TreeShap(scorer.booster, threads=3)(x)
    assert split.shape == whole.shape
    np.testing.assert_array_equal(split, whole)
