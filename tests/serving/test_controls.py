"""POST /v1/control-results: idempotent by control id, kept for retraining."""

from __future__ import annotations

import pandas as pd
import pytest

from canonical.frames import read_table
from serving.examples import EXAMPLE_CONTROL_RESULT
from tests.serving.conftest import ANALYST, RISK, headers


def _post(client, *results):
    return client.post(
        "/v1/control-results", json={"results": list(results)}, headers=headers(ANALYST)
    )


def _result(n: int, **changes) -> dict:
    return {**EXAMPLE_CONTROL_RESULT, "control_id": f"CTL-T{n:04d}", **changes}


def test_posting_twice_stores_once(client) -> None:
    r = _post(client, _result(1), _result(2))
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["created", "created"]
    r = _post(client, _result(1), _result(2), _result(3))
    assert [x["status"] for x in r.json()["results"]] == ["unchanged", "unchanged", "created"]
    frame = client.app.state.serving.controls.frame()
    assert sorted(frame.control_id) == ["CTL-T0001", "CTL-T0002", "CTL-T0003"]


def test_other_content_under_a_known_id_is_409_and_writes_nothing(client) -> None:
    _post(client, _result(10))
    r = _post(client, _result(11), _result(10, outcome="seizure"))
    assert r.status_code == 409
    assert r.json()["detail"]["control_ids"] == ["CTL-T0010"]
    ids = set(client.app.state.serving.controls.frame().control_id)
    assert "CTL-T0010" in ids
    assert "CTL-T0011" not in ids


def test_basis_and_propensity_come_from_the_decision_log(client, records) -> None:
    record = records[250]
    r = client.post("/v1/score", json=record, headers=headers(RISK))
    decision = r.json()["decision"]
    bare = _result(20, declaration_id=record["declaration_id"])
    bare.pop("selection_basis")
    bare.pop("propensity")
    assert _post(client, bare).status_code == 200
    frame = client.app.state.serving.controls.frame().set_index("control_id")
    row = frame.loc["CTL-T0020"]
    expected = {"model": "model", "random": "random", "none": "unknown"}[decision["basis"]]
    assert row.selection_basis == expected
    if decision["basis"] == "none":  # controlled outside this policy: propensity unknown
        assert pd.isna(row.propensity)
    else:
        assert row.propensity == pytest.approx(decision["propensity"])


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "maybe"},
        {"declaration_id": None, "ens_id": None},
        {"propensity": 0.0},
        {"revenue_recovered": -5.0},
        {"unknown_field": 1},
    ],
)
def test_invalid_results_are_422(client, change) -> None:
    r = _post(client, {**_result(30), **change})
    assert r.status_code == 422


def test_results_export_as_canonical_controls(client, tmp_path) -> None:
    _post(client, _result(40), _result(41, outcome="no_irregularity", risk_type=None))
    path = client.app.state.serving.controls.export(tmp_path / "controls.parquet")
    table = read_table(path, "controls")
    assert {"CTL-T0040", "CTL-T0041"} <= set(table.control_id)
    assert isinstance(table.controlled_at.dtype, pd.DatetimeTZDtype)
    assert set(table.outcome) <= {"no_irregularity", "irregularity", "seizure"}
