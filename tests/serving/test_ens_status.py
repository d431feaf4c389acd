"""An ENS named by ens_id but not sent is reported, never silently read as "none filed"
(issue 14): ``ens_status`` and a warning in the API answer, the status in the page's data."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from serving.ens_status import ens_status, frame_statuses
from serving.explain.record import explain_record
from serving.scoring import Scorer
from tests.serving.conftest import RISK, headers


def test_status_of_a_declaration() -> None:
    assert ens_status({"declaration_id": "D"}) == "not_filed"
    assert ens_status({"ens_id": "E1"}) == "not_sent"
    assert ens_status({"ens_id": "E1", "ens": {"versions": [{"filing_id": "E1"}]}}) == "filed"


def test_status_of_a_frame() -> None:
    declarations = pd.DataFrame({"ens_id": ["E1", None, "E2"]})
    filings = pd.DataFrame({"filing_id": ["E1"]})
    assert frame_statuses(declarations, filings).tolist() == ["filed", "not_filed", "not_sent"]
    assert frame_statuses(declarations, None).tolist() == ["not_sent", "not_filed", "not_sent"]
    assert frame_statuses(pd.DataFrame({"x": [1]}), None).tolist() == ["not_filed"]


@pytest.fixture(scope="module")
def with_ens(records) -> dict:
    return next(r for r in records if r.get("ens"))


def test_answer_says_filed_with_the_ens(client, with_ens) -> None:
    answer = client.post("/v1/score", json=with_ens, headers=headers(RISK)).json()
    assert answer["ens_status"] == "filed"
    assert answer["warnings"] == []


def test_answer_reports_an_ens_not_sent(client, with_ens) -> None:
    sent = copy.deepcopy(with_ens)
    del sent["ens"]
    sent["declaration_id"] += "-noens"
    r = client.post("/v1/score", json=sent, headers=headers(RISK))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["ens_status"] == "not_sent"
    (warning,) = answer["warnings"]
    assert f"ENS {sent['ens_id']} was not sent" in warning


def test_batch_answers_carry_the_status(client, with_ens) -> None:
    without = {k: v for k, v in with_ens.items() if k != "ens"}
    without["declaration_id"] += "-batch"
    body = {"declarations": [without, {**without, "declaration_id": "X-no-link", "ens_id": None}]}
    body["declarations"][1].pop("ens_id")
    results = client.post("/v1/score/batch", json=body, headers=headers(RISK)).json()["results"]
    assert [r["ens_status"] for r in results] == ["not_sent", "not_filed"]


def test_explanation_data_holds_the_status(trained, with_ens) -> None:
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    sent = {k: v for k, v in with_ens.items() if k != "ens"}
    assert explain_record({"declaration": sent}, scorer).ens_status == "not_sent"
    assert explain_record({"declaration": with_ens}, scorer).ens_status == "filed"
