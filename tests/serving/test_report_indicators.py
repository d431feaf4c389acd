"""`targeting report`: the EU indicators from a real decision log (declarations scored
through the app) and control results posted to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.app import create_app
from serving.settings import ServingSettings
from targeting.cli import app as cli
from tests.serving.conftest import ANALYST, RISK, Trained, headers, make_settings
from training.indicators import indicators, write_report
from training.service_log import read_controls, read_decisions

P_RANDOM = 0.1


@dataclass(frozen=True)
class Served:
    """The decision log of the scored records and what was posted to it."""

    database: Path
    decisions: list[dict[str, Any]]  # per record: its decision and importer_aeo
    posted: list[dict[str, Any]]  # control results, as posted


def _hit(declaration_id: str) -> bool:
    """A fixed outcome per declaration (the test knows every result it posts)."""
    return sum(map(ord, declaration_id)) % 3 == 0


@pytest.fixture(scope="module")
def settings(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    """A random arm of p = 0.1 (rate 0.2, half of it explored) so the test sees one."""
    folder = tmp_path_factory.mktemp("report")
    return make_settings(trained, folder, inspection_rate=0.2, exploration_share=0.5)


@pytest.fixture(scope="module")
def served(settings: ServingSettings, records: list[dict[str, Any]]) -> Iterator[Served]:
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/score/batch", json={"declarations": records}, headers=headers(RISK))
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        decisions = [
            {
                "declaration_id": x["declaration_id"],
                "basis": x["decision"]["basis"],
                "aeo": bool(records[x["index"]].get("importer_aeo", False)),
            }
            for x in results
        ]
        posted = []
        chosen = [d for d in decisions if d["basis"] in ("model", "random")]
        outside = [d for d in decisions if d["basis"] == "none"][:3]  # officers' own choice
        for n, d in enumerate(chosen + outside):
            hit = _hit(d["declaration_id"])
            posted.append(
                {
                    "control_id": f"CTL-R{n:05d}",
                    "declaration_id": d["declaration_id"],
                    "controlled_at": "2025-04-02T10:00:00Z",
                    "control_type": ("documentary", "physical", "scan")[n % 3],
                    "outcome": "irregularity" if hit else "no_irregularity",
                    "risk_type": "undervaluation" if hit else None,
                    "revenue_recovered": 100.0 if hit else 0.0,
                }
            )
        r = client.post("/v1/control-results", json={"results": posted}, headers=headers(ANALYST))
        assert r.status_code == 200, r.text
        yield Served(settings.decision_db, decisions, posted)


@pytest.fixture(scope="module")
def table(served: Served) -> pd.DataFrame:
    today = datetime.now(UTC).date()
    decisions = read_decisions(served.database, today, pd.Timestamp(today) + pd.Timedelta(days=1))
    return indicators(decisions, read_controls(served.database))


def _value(table: pd.DataFrame, indicator: str, group: str = "all") -> pd.Series:
    rows = table[(table["indicator"] == indicator) & (table["group"] == group)]
    assert len(rows) == 1, (indicator, group, table["indicator"].unique())
    return rows.iloc[0]


def test_controls_by_basis_and_type_count_what_was_posted(served: Served, table) -> None:
    basis = {d["declaration_id"]: d["basis"] for d in served.decisions}
    counts = pd.Series([basis[p["declaration_id"]] for p in served.posted]).value_counts()
    assert counts["random"] >= 20  # the test needs a random arm
    assert _value(table, "controls")["value"] == len(served.posted)
    model = _value(table, "controls by basis", "model (electronic risk analysis)")
    assert model["value"] == counts["model"]
    assert _value(table, "controls by basis", "random")["value"] == counts["random"]
    other = _value(table, "controls by basis", "other (rules, officers, unknown)")
    assert other["value"] == 3
    types = pd.Series([p["control_type"] for p in served.posted]).value_counts()
    assert _value(table, "controls by type", "scan")["value"] == types["scan"]
    by = table[table["indicator"] == "controls by type and basis"]
    assert by["value"].sum() == len(served.posted)


def test_detection_rate_and_revenue(served: Served, table) -> None:
    hits = [p["outcome"] == "irregularity" for p in served.posted]
    rate = _value(table, "detection rate")
    assert rate["value"] == pytest.approx(np.mean(hits))
    assert rate["low"] < rate["value"] < rate["high"]
    assert _value(table, "revenue recovered")["value"] == pytest.approx(100.0 * sum(hits))
    assert "what controls would find" in rate["note"]


def test_aeo_share_and_the_model_arms_recall_by_ips(served: Served, table) -> None:
    aeo = np.array([d["aeo"] for d in served.decisions])
    share = _value(table, "share of declarations by AEOs")
    assert share["value"] == pytest.approx(aeo.mean())
    for group, flag in (("AEO", True), ("non-AEO", False)):
        mine = [d for d in served.decisions if d["aeo"] == flag]
        model_hits = sum(_hit(d["declaration_id"]) for d in mine if d["basis"] == "model")
        random_hits = sum(_hit(d["declaration_id"]) for d in mine if d["basis"] == "random")
        recall = _value(table, "model recall (IPS)", group)
        if model_hits + random_hits == 0:
            assert np.isnan(recall["value"])
            continue
        # model-arm rows weigh 1, random-arm rows 1 / p; officers' own controls none
        expected = model_hits / (model_hits + random_hits / P_RANDOM)
        assert recall["value"] == pytest.approx(expected)
        assert recall["low"] <= recall["value"] <= recall["high"]
        assert "IPS" in recall["note"]


def test_hits_per_reason_family_add_up(served: Served, table) -> None:
    families = table[table["indicator"] == "hits by reason family"]
    hits = sum(p["outcome"] == "irregularity" for p in served.posted)
    assert families["value"].sum() == hits
    assert set(families["group"]) != {"none"}  # the top reason's family, not a default


def test_csv_and_chart_are_written(table, tmp_path: Path) -> None:
    csv, png = write_report(table, tmp_path)
    back = pd.read_csv(csv)
    assert list(back.columns) == ["indicator", "group", "value", "low", "high", "count", "note"]
    assert len(back) == len(table)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_report_command(served: Served, tmp_path: Path) -> None:
    today = datetime.now(UTC).date().isoformat()
    args = ["report", "--from", today, "--to", today, "--database", str(served.database)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "model recall (IPS)" in result.output
    assert (tmp_path / "indicators.png").exists()
    csv = pd.read_csv(tmp_path / "indicators.csv")
    assert csv[csv.indicator == "controls"]["value"].iloc[0] == len(served.posted)
    # a period without decisions says so and exits 2
    empty = CliRunner().invoke(
        cli,
        [
            "report",
            "--from",
            "2001-01-01",
            "--to",
            "2001-01-31",
            "--database",
            str(served.database),
        ],
    )
    assert empty.exit_code == 2
    assert "no decision from 2001-01-01 to 2001-01-31" in empty.output


def test_stored_declarations_carry_the_aeo_flag(served: Served) -> None:
    # the indicator reads importer_aeo from each decision's stored declaration
    today = datetime.now(UTC).date()
    d = read_decisions(served.database, today, pd.Timestamp(today) + pd.Timedelta(days=1))
    flags = [bool(json.loads(x).get("importer_aeo") or False) for x in d["declaration"]]
    assert sum(flags) == sum(x["aeo"] for x in served.decisions)
