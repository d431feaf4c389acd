"""Drift of the served traffic against the bundle's reference: the `targeting drift`
report and the /metrics gauges, on a decision log made through the app."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from models.drift import DriftReference
from serving.app import create_app
from targeting.cli import app as cli
from tests.serving.conftest import RISK, Trained, headers, make_settings
from training.drift_report import drift_report

NEW = 100  # declarations sent with an importer training never saw


def _metrics(client: TestClient) -> str:
    """The /metrics page, read with a key (required outside development)."""
    return client.get("/metrics", headers=headers(RISK)).text


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+-]+|NaN)$", text, re.M)
    assert match, name
    return float(match.group(1))


@pytest.fixture(scope="module")
def client(
    trained: Trained, records: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An app with the drift schedule off (the tests update by hand), having scored the
    records, the first ``NEW`` of them under new importer ids."""
    settings = make_settings(
        trained, tmp_path_factory.mktemp("drift"), drift_interval_s=0, drift_top=5
    )
    sent = [{**r, "importer_id": f"NEWIMP{i:05d}"} if i < NEW else r for i, r in enumerate(records)]
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/score/batch", json={"declarations": sent}, headers=headers(RISK))
        assert r.status_code == 200, r.text
        yield c


def test_the_bundle_carries_its_reference(trained: Trained) -> None:
    reference = DriftReference.load(trained.bundle)
    assert reference is not None
    manifest = json.loads((trained.bundle / "manifest.json").read_text())
    assert reference.names == manifest["feature_names"]
    assert "validation window as served" in reference.description
    assert len(reference.seen["importer_id"]) > 100


def test_gauges_move_on_the_schedule_not_per_request(
    client: TestClient, trained: Trained, records: list[dict[str, Any]]
) -> None:
    before = _metrics(client)  # not computed yet: NaN, not 0 ("no drift")
    assert math.isnan(_gauge(before, "targeting_drift_score_psi"))
    assert _gauge(before, "targeting_drift_window_rows") == 0
    figures = client.app.state.drift.update(trained.bundle)
    assert figures is not None
    assert figures.rows == len(records)
    text = _metrics(client)
    assert _gauge(text, "targeting_drift_window_rows") == len(records)
    party = _gauge(text, 'targeting_drift_unseen_rate{kind="party"}')
    # the importer column: NEW of 600 unseen; declarant and seller: none
    assert party == pytest.approx(NEW / len(records) / 3, abs=0.01)
    assert _gauge(text, "targeting_drift_score_psi") == pytest.approx(figures.score_psi)
    series = re.findall(r'^targeting_drift_psi\{feature="([^"]+)"\}', text, re.M)
    assert 1 <= len(series) <= 5
    assert set(series) == set(figures.feature_psi)
    # more traffic leaves the gauges as they were until the next update
    r = client.post("/v1/score", json=records[0], headers=headers(RISK))
    assert r.status_code == 200
    assert _gauge(_metrics(client), "targeting_drift_window_rows") == len(records)
    client.app.state.drift.update(trained.bundle)
    assert _gauge(_metrics(client), "targeting_drift_window_rows") == len(records) + 1


def test_the_drift_report(client: TestClient, trained: Trained, tmp_path: Path) -> None:
    database = client.app.state.serving.settings.decision_db
    today = datetime.now(UTC).date()
    report = drift_report(trained.bundle, database, today, datetime.now(UTC), tmp_path)
    s = report.summary
    assert s["unseen_importer_id"] == pytest.approx(NEW / s["rows"], abs=0.01)
    assert s["unseen_declarant_id"] == 0.0
    assert s["psi_max"] == pytest.approx(report.table["psi"].max())
    assert [p.name for p in report.paths] == ["drift.csv", "drift_summary.json", "drift.png"]
    day = today.isoformat()
    args = ["drift", "--model", str(trained.bundle), "--database", str(database)]
    result = CliRunner().invoke(cli, [*args, "--from", day, "--to", day, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "score PSI" in result.output
    assert "unseen parties" in result.output
    assert json.loads((tmp_path / "drift_summary.json").read_text())["rows"] == s["rows"]
