"""The control store's writes: idempotent, all or nothing, a few statements per 500."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serving.controls import ControlConflictError, ControlStore, content_hash
from serving.decision_log import DecisionLog
from serving.storage import CHUNK_ROWS
from tests.serving.test_decision_log import _records


def _results(n: int, outcome: str = "no_irregularity") -> list[dict]:
    return [
        {
            "control_id": f"C{i:05d}",
            "declaration_id": f"DECL{i:06d}",
            "controlled_at": "2026-01-02T00:00:00+00:00",
            "outcome": outcome,
        }
        for i in range(n)
    ]


@pytest.fixture
def store(tmp_path: Path):
    log = DecisionLog(tmp_path / "decisions.sqlite")
    log.append(_records(50))
    store = ControlStore(tmp_path / "controls.sqlite", log)
    yield store
    store.close()
    log.close()


def test_many_results_take_a_few_statements(store) -> None:
    writes: list[str] = []
    reads: list[str] = []
    store.db._writer.set_trace_callback(writes.append)
    store.decisions.db._reader.set_trace_callback(reads.append)
    n = 2 * CHUNK_ROWS + 201
    out = store.record(_results(n))
    assert [s.status for s in out] == ["created"] * n
    # each statement lets go of the GIL and waits for it back: never a few per result
    assert len(writes) == 8, [w[:40] for w in writes]  # BEGIN, 3 SELECT, 3 INSERT, COMMIT
    assert len(reads) == 3
    frame = store.frame().set_index("control_id")
    assert len(frame) == n
    # the first 50 declarations have a logged decision: basis and propensity filled
    assert frame.loc["C00007", "selection_basis"] == "model"  # _records: every 7th selected
    assert frame.loc["C00007", "propensity"] == 1.0
    assert frame.loc["C00008", "selection_basis"] == "unknown"
    # not selected by this service, yet controlled: chosen outside the policy, so its
    # propensity is unknown (not the random arm's p, which would weight it as random)
    assert pd.isna(frame.loc["C00008", "propensity"])
    assert frame.loc["C00060", "selection_basis"] == "unknown"  # no decision logged


def test_repeats_are_unchanged_and_conflicts_write_nothing(store) -> None:
    first = _results(3)
    out = store.record([*first, first[1]])  # a repeat inside one request
    assert [s.status for s in out] == ["created", "created", "created", "unchanged"]
    spelled = {**first[0], "selection_basis": "unknown", "control_type": "unknown"}
    spelled["revenue_recovered"] = 0.0  # the defaults, written out: the same result
    assert [s.status for s in store.record([spelled])] == ["unchanged"]
    assert [s.status for s in store.record(first)] == ["unchanged"] * 3
    changed = _results(5, outcome="seizure")
    with pytest.raises(ControlConflictError) as error:
        store.record(changed)
    assert error.value.control_ids == ["C00000", "C00001", "C00002"]
    assert sorted(store.frame().control_id) == ["C00000", "C00001", "C00002"]
    clash = [first[0], {**first[0], "outcome": "seizure", "control_id": "C09999"}]
    clash.append({**clash[1], "outcome": "irregularity"})  # same new id, other content
    with pytest.raises(ControlConflictError):
        store.record(clash)
    assert "C09999" not in set(store.frame().control_id)


def test_results_stored_under_the_earlier_hash_are_still_recognised(store) -> None:
    """Rows hashed as posted (before defaults entered the hash) answer their retry
    "unchanged", and other content under their id is still a conflict."""
    first = _results(2)
    store.record(first)
    with store.db.transaction() as conn:
        for r in first:
            conn.execute(
                "UPDATE control_results SET content_hash = ? WHERE control_id = ?",
                (content_hash(r), r["control_id"]),
            )
    assert [s.status for s in store.record(first)] == ["unchanged", "unchanged"]
    with pytest.raises(ControlConflictError):
        store.record([{**first[0], "outcome": "seizure"}])
