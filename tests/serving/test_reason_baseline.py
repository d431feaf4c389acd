"""Reasons keep the explainer's baseline: in the score answer, the decision log and the
record read back."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest

from serving.reason_rows import find_explainer
from serving.scoring import Scorer
from tests.serving.conftest import ANALYST, RISK, headers

N = 60


@pytest.fixture(scope="module")
def answered(client, records) -> list[dict]:
    """The batch answers, reasons on, for the first ``N`` declarations."""
    if find_explainer() is None:
        pytest.skip("serving.explain is not installed")
    r = client.post(
        "/v1/score/batch?reasons=true",
        json={"declarations": records[:N]},
        headers=headers(RISK),
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == N
    return results


def test_every_reason_has_the_explainers_baseline(answered, trained, records) -> None:
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    batch = scorer.score_records(copy.deepcopy(records[:N]))
    expected = find_explainer()(scorer, batch, k=3)
    numbers = 0
    for item in answered:
        want = expected[item["index"]]
        assert [r["code"] for r in item["reasons"]] == [r["code"] for r in want]
        for got, reason in zip(item["reasons"], want, strict=True):
            assert "baseline" in got
            if reason["baseline"] is None:
                assert got["baseline"] is None
            else:
                # answers give reason numbers to SIGNIFICANT_DIGITS (6) significant digits
                assert got["baseline"] == pytest.approx(reason["baseline"], rel=1e-5)
                numbers += 1
    assert numbers > 0  # the sample has reasons the explainer compares with a baseline


def test_the_log_and_the_record_keep_the_baseline(client, settings, answered) -> None:
    item = next(x for x in answered if any(r["baseline"] is not None for r in x["reasons"]))
    with sqlite3.connect(settings.decision_db) as conn:
        (stored,) = conn.execute(
            "SELECT reasons FROM decisions WHERE decision_id = ?", (item["decision_id"],)
        ).fetchone()
    assert [r["baseline"] for r in json.loads(stored)] == [r["baseline"] for r in item["reasons"]]
    r = client.get(f"/v1/consignments/{item['declaration_id']}", headers=headers(ANALYST))
    assert r.status_code == 200, r.text
    assert r.json()["reasons"] == item["reasons"]


def test_the_openapi_documents_the_baseline(client) -> None:
    reason = client.get("/openapi.json").json()["components"]["schemas"]["ReasonOut"]
    assert "baseline" in reason["properties"]
    assert reason["properties"]["baseline"]["description"]
