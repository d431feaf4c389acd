"""Decisions made with reasons keep their TreeSHAP contributions and base in the log, so
their explanation shows them as made; logs written before the columns are upgraded."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from serving.decision_log import DecisionLog
from serving.explain.record import explain_record
from serving.scoring import Scorer
from tests.serving.conftest import ANALYST, RISK, headers
from tests.serving.test_decision_log import _records


def _logged(client, record: dict, reasons: bool) -> dict:
    r = client.post(f"/v1/score?reasons={str(reasons).lower()}", json=record, headers=headers(RISK))
    assert r.status_code == 200, r.text
    got = client.get(f"/v1/consignments/{record['declaration_id']}", headers=headers(ANALYST))
    assert got.status_code == 200, got.text
    return got.json()


def test_contributions_and_base_add_up_to_the_tree_log_odds(client, records, trained) -> None:
    logged = _logged(client, records[300], reasons=True)
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    names = list(scorer.names)
    assert set(logged["contributions"]) == set(names)
    x = np.array(
        [[np.nan if logged["features"][n] is None else logged["features"][n] for n in names]]
    )
    log_odds = scorer.booster.predict(x, raw_score=True)[0]
    total = logged["shap_base"] + sum(logged["contributions"].values())
    assert total == pytest.approx(log_odds, abs=1e-6)
    assert logged["shap_base"] == pytest.approx(scorer.shap_base)


def test_no_contributions_without_reasons(client, records) -> None:
    logged = _logged(client, records[301], reasons=False)
    assert logged["contributions"] is None
    assert logged["shap_base"] is None


def test_the_explanation_uses_the_stored_contributions(client, records, trained) -> None:
    """Whatever model is loaded: a stored base moved by 1 moves the chart's start by 1."""
    logged = _logged(client, records[302], reasons=True)
    scorer = Scorer.from_bundle(trained.bundle, device="cpu")
    as_made = explain_record(logged, scorer)
    moved = explain_record({**logged, "shap_base": logged["shap_base"] + 1.0}, scorer)
    assert moved.base == pytest.approx(as_made.base + 1.0)
    np.testing.assert_allclose(moved.contributions, as_made.contributions)
    notes = explain_record(logged, scorer, model_version="another").notes
    assert any("the chart shows its stored contributions" in n for n in notes)


def test_a_log_from_before_the_columns_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    log = DecisionLog(path)
    log.append(_records(2))
    log.close()
    with sqlite3.connect(path) as conn:  # the table as it was created before the columns
        conn.execute("ALTER TABLE decisions DROP COLUMN contributions")
        conn.execute("ALTER TABLE decisions DROP COLUMN shap_base")
    log = DecisionLog(path)
    new = dataclasses.replace(
        _records(1, start=5)[0], contributions=np.array([0.1, -0.2, 0.3]), shap_base=-2.5
    )
    log.append([new])
    assert log.latest("DECL000000")["contributions"] is None
    upgraded = log.latest("DECL000005")
    assert list(upgraded["contributions"].values()) == pytest.approx([0.1, -0.2, 0.3])
    assert upgraded["shap_base"] == -2.5
    log.close()
