"""What the service logged reads back as canonical frames for a retrain: the declarations
scored (ENS embedded) and the control results posted, with basis and propensity."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.log_frames import logged_frames
from tests.serving.conftest import ANALYST, RISK, headers


def test_scored_declarations_and_posted_results_read_back(client, records, trained) -> None:
    sent = records[:40]
    r = client.post("/v1/score/batch", json={"declarations": sent}, headers=headers(RISK))
    assert r.status_code == 200
    again = client.post("/v1/score", json=sent[0], headers=headers(RISK))  # scored twice
    assert again.status_code == 200
    decided = {x["declaration_id"]: x["decision"] for x in r.json()["results"]}
    results = [
        {
            "control_id": f"CTL-LOG{n:03d}",
            "declaration_id": rec["declaration_id"],
            "controlled_at": "2030-01-01T00:00:00Z",
            "control_type": "physical",
            "outcome": "irregularity" if n % 2 else "no_irregularity",
            "revenue_recovered": 10.0 * n,
        }
        for n, rec in enumerate(sent[:6])
    ]
    posted = client.post("/v1/control-results", json={"results": results}, headers=headers(ANALYST))
    assert posted.status_code == 200

    db = client.app.state.serving.settings.decision_db
    frames = logged_frames(db)
    ids = [rec["declaration_id"] for rec in sent]
    d = frames["declarations"].set_index("declaration_id").loc[ids].reset_index()
    want = trained.frames["declarations"].set_index("declaration_id").loc[ids].reset_index()
    assert frames["declarations"]["declaration_id"].is_unique
    pd.testing.assert_frame_equal(d[want.columns], want, check_dtype=False)
    linked = want["ens_id"].dropna()
    assert set(linked) <= set(frames["ens_filings"]["filing_id"])
    c = frames["controls"].set_index("control_id").loc[[x["control_id"] for x in results]]
    assert list(c["outcome"]) == [x["outcome"] for x in results]
    for (_, row), res in zip(c.iterrows(), results, strict=True):
        decision = decided[res["declaration_id"]]
        if decision["basis"] in ("model", "random"):
            assert row.selection_basis == decision["basis"]
            assert row.propensity == pytest.approx(decision["propensity"])


def test_a_missing_log_is_an_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no decision log"):
        logged_frames(tmp_path / "absent.sqlite")
