"""The decision log's writes: all of a batch or nothing, in few statements."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from serving.decision_log import DecisionLog, DecisionRecord
from serving.storage import CHUNK_ROWS


def _records(n: int, start: int = 0) -> list[DecisionRecord]:
    return [
        DecisionRecord(
            decision_id=f"D{i:06d}",
            declaration_id=f"DECL{i:06d}",
            decided_at=f"2026-01-01T00:00:{i % 60:02d}.000000+00:00",
            request_id="R1",
            request_hash="0" * 64,
            model_name="targeting",
            model_version="3",
            model_alias="champion",
            feature_spec_hash="f" * 16,
            score=i / 10_000,
            expected_revenue=float(i),
            risk_band="low",
            risk_type="undervaluation",
            selected=i % 7 == 0,
            basis="model" if i % 7 == 0 else "none",
            propensity=1.0 if i % 7 == 0 else 0.005,  # as the engine records: p below tau
            random_probability=0.005,
            threshold=0.3,
            reasons=[{"code": "VAL01", "contribution": 0.1}] if i % 2 else None,
            features=np.array([i, 0.5, np.nan]),
            declaration=f'{{"declaration_id":"DECL{i:06d}"}}'.encode(),
        )
        for i in range(start, start + n)
    ]


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]


@pytest.fixture
def log(tmp_path: Path):
    log = DecisionLog(tmp_path / "decisions.sqlite")
    statements: list[str] = []
    log.db._writer.set_trace_callback(statements.append)
    log.statements = statements  # type: ignore[attr-defined]
    yield log
    log.close()


@pytest.mark.parametrize(
    ("rows", "statements"), [(1, 1), (8, 1), (CHUNK_ROWS, 1), (2 * CHUNK_ROWS + 201, 5)]
)
def test_a_batch_is_written_in_few_statements(log, rows, statements) -> None:
    log.append(_records(rows))
    assert _count(log.db.path) == rows
    # one multi-row INSERT per chunk (and BEGIN/COMMIT around several): each statement
    # lets go of the GIL and waits to get it back, so never one statement per row
    assert len(log.statements) == statements, [s[:30] for s in log.statements]
    last = log.latest(f"DECL{rows - 1:06d}")
    assert last is not None
    assert last["score"] == (rows - 1) / 10_000
    assert last["features"]["0"] == rows - 1
    assert last["features"]["2"] is None


@pytest.mark.parametrize("rows", [8, 2 * CHUNK_ROWS + 201])
def test_a_batch_that_fails_leaves_nothing(log, rows) -> None:
    records = _records(rows)
    records[-1] = _records(1, start=0)[0]  # the first decision id again: refused
    with pytest.raises(sqlite3.IntegrityError):
        log.append(records)
    assert _count(log.db.path) == 0
    log.append(_records(3))  # the log still takes writes
    assert _count(log.db.path) == 3


def test_decisions_of_gives_each_declarations_latest_decision(log) -> None:
    records = _records(2 * CHUNK_ROWS + 10)  # ids over three queries
    later = _records(2, start=5)
    later = [
        dataclasses.replace(
            r,
            decision_id=f"L{i}",
            decided_at="2026-02-01T00:00:00.000000+00:00",
            basis="random",
            propensity=0.005000000000000001,
        )
        for i, r in enumerate(later)
    ]
    same_time = dataclasses.replace(records[7], decision_id="S7", basis="model", propensity=0.25)
    log.append(records)
    log.append(later)
    log.append([same_time])  # same decided_at as records[7], logged later: it is the latest
    reads: list[str] = []
    log.db._reader.set_trace_callback(reads.append)
    ids = [r.declaration_id for r in records] + ["UNKNOWN", records[0].declaration_id]
    found = log.decisions_of(ids)
    assert len(reads) == 3  # one query per 500 ids, however many rows
    assert len(found) == len(records)
    assert found["DECL000005"] == ("random", 0.005000000000000001)  # exact, not rounded
    assert found["DECL000006"] == ("random", 0.005000000000000001)
    assert found["DECL000007"] == ("model", 0.25)
    assert found["DECL000008"] == (records[8].basis, records[8].propensity)
    assert "UNKNOWN" not in found
