"""The API's live feature state: what was scored and controlled is folded in, every app
on the same log sees it, and a restart keeps it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.examples import EXAMPLE_CONTROL_RESULT
from tests.serving.conftest import ANALYST, RISK, Trained, headers, make_settings

FOLD_OFTEN = {"fold_interval_s": 0.001, "batch_max_wait_ms": 0.0}


@pytest.fixture(scope="module")
def later(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The world's last declarations replayed 20 days later under new ids, without ENS."""
    out = []
    for r in records:
        moved = {k: v for k, v in r.items() if k not in ("ens", "ens_id")}
        lodged = pd.Timestamp(r["lodged_at"]) + pd.Timedelta(days=20)
        moved["lodged_at"] = lodged.strftime("%Y-%m-%dT%H:%M:%SZ")
        moved["declaration_id"] = f"L-{r['declaration_id']}"
        out.append(moved)
    return sorted(out, key=lambda r: r["lodged_at"])


def _score(client: TestClient, rows: list[dict[str, Any]]) -> None:
    body = {"declarations": rows}
    r = client.post("/v1/score/batch?reasons=false", json=body, headers=headers(RISK))
    assert r.status_code == 200, r.text


def _feature(client: TestClient, declaration_id: str, name: str) -> float:
    r = client.get(f"/v1/consignments/{declaration_id}", headers=headers(ANALYST))
    assert r.status_code == 200, r.text
    return r.json()["features"][name]


def _busy_importer(rows: list[dict[str, Any]]) -> tuple[list[dict], dict[str, Any]]:
    """Rows before the last one of the busiest importer, and that last one."""
    importer = pd.Series([r["importer_id"] for r in rows]).value_counts().index[0]
    mine = [r for r in rows if r["importer_id"] == importer]
    return [r for r in rows if r is not mine[-1]], mine[-1]


def test_scored_declarations_reach_later_ones_and_frozen_state_does_not(
    trained: Trained, later: list[dict[str, Any]], tmp_path: Path, caplog
) -> None:
    earlier, last = _busy_importer(later)
    counts = {}
    for name, options in (("live", FOLD_OFTEN), ("frozen", {"fold_interval_s": 0.0})):
        settings = make_settings(trained, tmp_path / name, **options)
        with TestClient(create_app(settings)) as client:
            _score(client, earlier)
            _score(client, [last])
            counts[name] = _feature(client, last["declaration_id"], "importer__n30d")
    mine = sum(r["importer_id"] == last["importer_id"] for r in earlier)
    assert mine >= 3
    assert counts["live"] - counts["frozen"] == pytest.approx(mine)
    stale = [r for r in caplog.records if "folding is off" in r.getMessage()]
    assert len(stale) == 1  # the frozen app warned, once


def test_a_restart_and_a_second_process_see_the_same_state(
    trained: Trained, later: list[dict[str, Any]], tmp_path: Path
) -> None:
    earlier, last = _busy_importer(later)
    settings = make_settings(trained, tmp_path / "shared", **FOLD_OFTEN)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        _score(first, earlier)  # the second app (another process) tails them from the log
        _score(second, [last])
        seen_by_second = _feature(second, last["declaration_id"], "importer__n30d")
    again = {**last, "declaration_id": "L-again", "lodged_at": last["lodged_at"]}
    with TestClient(create_app(settings)) as restarted:  # checkpoint + the log's tail
        _score(restarted, [again])
        after_restart = _feature(restarted, "L-again", "importer__n30d")
    mine = sum(r["importer_id"] == last["importer_id"] for r in earlier)
    assert mine >= 3
    assert seen_by_second >= mine
    assert after_restart == seen_by_second
    checkpoints = list((tmp_path / "shared" / "live-state").glob("*/CURRENT"))
    assert len(checkpoints) == 1


def test_control_results_posted_are_folded(
    trained: Trained, later: list[dict[str, Any]], tmp_path: Path
) -> None:
    earlier, last = _busy_importer(later)
    target = next(r for r in earlier if r["importer_id"] == last["importer_id"])
    result = {
        **EXAMPLE_CONTROL_RESULT,
        "control_id": "CTL-LIVE-1",
        "declaration_id": target["declaration_id"],
        "controlled_at": (pd.Timestamp(target["lodged_at"]) + pd.Timedelta(hours=1)).isoformat(),
        "outcome": "seizure",
    }
    result.pop("ens_id", None)
    hits = {}
    for name in ("without", "with"):
        settings = make_settings(trained, tmp_path / name, **FOLD_OFTEN)
        with TestClient(create_app(settings)) as client:
            _score(client, earlier)
            if name == "with":
                r = client.post(
                    "/v1/control-results", json={"results": [result]}, headers=headers(ANALYST)
                )
                assert r.status_code == 200, r.text
            _score(client, [last])
            hits[name] = _feature(client, last["declaration_id"], "importer__hits")
    assert hits["with"] == hits["without"] + 1
