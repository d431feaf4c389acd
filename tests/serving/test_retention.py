"""Decision-log retention: old decisions move to Parquet by day without loss or repeats,
the WAL is truncated, feature vectors are stored as float32."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from serving.archive import feature_specs
from serving.decision_log import DecisionLog, DecisionRecord, read_archive

NAMES = ["a", "b", "c"]
SPEC = "f" * 16


def _record(i: int, decided_at: str) -> DecisionRecord:
    return DecisionRecord(
        decision_id=f"D{i:06d}",
        declaration_id=f"DECL{i:06d}",
        decided_at=decided_at,
        request_id="R1",
        request_hash="0" * 64,
        model_name="targeting",
        model_version="3",
        model_alias="champion",
        feature_spec_hash=SPEC,
        score=i / 1000,
        expected_revenue=float(i),
        risk_band="low",
        risk_type="undervaluation",
        selected=i % 5 == 0,
        basis="random" if i % 5 == 0 else "none",
        propensity=0.005,
        random_probability=0.005,
        threshold=float("inf") if i == 1 else 0.3,
        reasons=[{"code": "VAL01", "contribution": 0.1}] if i % 2 else None,
        features=np.array([i, 0.1, np.nan], dtype=np.float32),
        declaration=f'{{"declaration_id":"DECL{i:06d}"}}'.encode(),
        contributions=np.array([0.5, -0.25, 0.0]) if i % 2 else None,
        shap_base=-3.0 if i % 2 else None,
    )


def _day(day: int, i: int) -> str:
    return f"2026-01-{day:02d}T{i % 24:02d}:00:00.000000+00:00"


def _fill(log: DecisionLog) -> list[DecisionRecord]:
    """Days 1 to 4, six decisions a day, written in two batches per day."""
    records = [_record(10 * d + k, _day(d, k)) for d in range(1, 5) for k in range(6)]
    for start in range(0, len(records), 3):
        log.append(records[start : start + 3])
    return records


def _ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT decision_id FROM decisions ORDER BY rowid")]


@pytest.fixture
def log(tmp_path: Path):
    log = DecisionLog(tmp_path / "decisions.sqlite", archive_dir=tmp_path / "archive")
    log.register_spec(SPEC, NAMES)
    yield log
    log.close()


def test_old_days_move_to_parquet_and_read_back(log: DecisionLog, tmp_path: Path) -> None:
    records = _fill(log)
    archive = tmp_path / "archive"
    report = log.archive(archive, datetime(2026, 1, 3, tzinfo=UTC))
    assert report.decisions == 12
    assert sorted(p.parent.name for p in report.parts) == ["day=2026-01-01", "day=2026-01-02"]
    assert _ids(log.db.path) == [r.decision_id for r in records[12:]]
    back = read_archive(archive, "2026-01-01", datetime(2026, 1, 3))
    assert back["decision_id"].tolist() == [r.decision_id for r in records[:12]]
    first = back.iloc[1]  # record 11: reasons, contributions, an odd score
    assert first["features"].tolist()[:2] == pytest.approx([11.0, 0.1])
    assert np.isnan(first["features"][2])
    assert first["contributions"].tolist() == [0.5, -0.25, 0.0]
    assert first["reasons"] == '[{"code":"VAL01","contribution":0.1}]'
    assert bool(back.iloc[0]["selected"]) is True
    assert feature_specs(archive) == {SPEC: NAMES}
    assert read_archive(archive, "2026-01-02", "2026-01-02T03:00:00")["decision_id"].tolist() == [
        "D000020",
        "D000021",
        "D000022",
    ]


def test_the_wal_is_truncated_and_rowids_never_reused(log: DecisionLog, tmp_path: Path) -> None:
    records = _fill(log)
    wal = Path(f"{log.db.path}-wal")
    assert wal.stat().st_size > 0
    log.archive(tmp_path / "archive", datetime(2027, 1, 1, tzinfo=UTC))
    assert wal.stat().st_size == 0
    assert _ids(log.db.path) == [records[-1].decision_id]  # the newest row stays
    log.append([_record(99, _day(5, 0))])
    with sqlite3.connect(log.db.path) as conn:
        rowid = conn.execute("SELECT rowid FROM decisions WHERE decision_id = 'D000099'").fetchone()
    assert rowid[0] == len(records) + 1


def test_archived_decisions_still_give_control_results_their_propensity(
    log: DecisionLog, tmp_path: Path
) -> None:
    _fill(log)
    log.archive(tmp_path / "archive", datetime(2026, 1, 2, tzinfo=UTC))
    found = log.decisions_of(["DECL000010", "DECL000040", "DECL999999"])
    assert found == {"DECL000010": ("random", 0.005), "DECL000040": ("random", 0.005)}


CRASH = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
import serving.decision_log as module
def crash(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
module._prune = crash
log = module.DecisionLog(Path(sys.argv[1]))
log.archive(Path(sys.argv[2]), datetime(2026, 1, 3, tzinfo=UTC))
"""


def test_a_run_killed_between_archive_and_prune_loses_and_repeats_nothing(
    log: DecisionLog, tmp_path: Path
) -> None:
    records = _fill(log)
    archive = tmp_path / "archive"
    killed = subprocess.run(
        [sys.executable, "-c", CRASH, str(log.db.path), str(archive)], check=False
    )
    assert killed.returncode == -9
    assert len(list(archive.glob("day=*/part-*.parquet"))) == 1  # written, never pruned
    assert _ids(log.db.path) == [r.decision_id for r in records]
    late = [_record(90, _day(1, 23)), _record(91, _day(6, 0))]  # a late clock, then today
    log.append(late)
    log.archive(archive, datetime(2026, 1, 3, tzinfo=UTC))
    log.archive(archive, datetime(2026, 1, 3, tzinfo=UTC))  # a second run finds nothing
    archived = read_archive(archive)["decision_id"].tolist()
    expected = [r.decision_id for r in [*records[:6], late[0], *records[6:12]]]
    assert archived == expected
    parts = archive.glob("day=*/part-*.parquet")
    assert sum(pq.read_metadata(p).num_rows for p in parts) == 13  # no part holds a repeat
    assert sorted(archived + _ids(log.db.path)) == sorted(r.decision_id for r in [*records, *late])


def test_feature_vectors_are_float32_and_older_float64_rows_still_read(
    log: DecisionLog,
) -> None:
    record = _record(7, _day(1, 0))
    log.append([record])
    old = dataclasses.replace(record, decision_id="OLD", declaration_id="OLD")
    row = list(old.row())
    row[19] = np.array([7.0, 0.1, np.nan]).tobytes()  # as written before: float64, no dtype
    row[21] = np.array([0.5, -0.25, 0.0]).tobytes()
    row[-1] = None
    with log.db.transaction() as conn:
        conn.execute(f"INSERT INTO decisions VALUES ({', '.join('?' * len(row))})", row)
    with sqlite3.connect(log.db.path) as conn:
        (size,) = conn.execute("SELECT length(features) FROM decisions WHERE rowid = 1").fetchone()
    assert size == 4 * len(NAMES)
    new, before = log.latest("DECL000007"), log.latest("OLD")
    assert new is not None
    assert before is not None
    assert new["features"] == {"a": 7.0, "b": 0.1, "c": None}  # float32 shown as 0.1
    assert before["features"] == {"a": 7.0, "b": 0.1, "c": None}
    assert new["contributions"] == before["contributions"] == {"a": 0.5, "b": -0.25, "c": 0.0}
