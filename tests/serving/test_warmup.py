"""A loaded model is warmed up: its first large batch builds no lookup table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from features.vocab import Vocabulary
from serving.model_holder import load_model
from tests.serving.conftest import make_settings


def _vocabularies(value: Any, found: list[Vocabulary], depth: int = 0) -> list[Vocabulary]:
    """Every Vocabulary reachable from ``value`` through attributes, dicts and lists."""
    if isinstance(value, Vocabulary):
        found.append(value)
    elif depth < 8 and isinstance(value, dict):
        for v in value.values():
            _vocabularies(v, found, depth + 1)
    elif depth < 8 and isinstance(value, list | tuple):
        for v in value:
            _vocabularies(v, found, depth + 1)
    elif depth < 8 and hasattr(value, "__dict__"):
        _vocabularies(vars(value), found, depth + 1)
    return found


def _built_by_a_large_batch(trained, tmp_path, records, rows: int) -> list[Vocabulary]:
    """Vocabularies whose batch lookup a 300-row scoring had to build, after a load
    with ``rows`` warm-up rows."""
    model = load_model(str(trained.bundle), make_settings(trained, tmp_path, warmup_rows=rows))
    scorer = model.scorer
    vocabularies = _vocabularies([scorer.pipeline, scorer.encoder], [])
    assert len(vocabularies) > 10
    cold = [v for v in vocabularies if not v.indexed]
    scorer.score_records(copy.deepcopy(records[:300]), reasons=False)
    return [v for v in cold if v.indexed]


def test_first_large_batch_after_a_load_builds_nothing(trained, tmp_path, records) -> None:
    assert _built_by_a_large_batch(trained, tmp_path, records, rows=512) == []


@pytest.mark.parametrize("rows", [0, 64])  # none, or too few rows for the batch path
def test_without_a_large_warm_up_the_first_large_batch_builds_them(
    trained, tmp_path, records, rows
) -> None:
    assert len(_built_by_a_large_batch(trained, tmp_path, records, rows)) > 5


def test_vocabulary_reports_whether_its_batch_lookup_is_built() -> None:
    vocabulary = Vocabulary([f"K{i}" for i in range(1000)])
    assert not vocabulary.indexed
    vocabulary.codes(["K1", "K2"])  # a few rows: a dict lookup, no table
    assert not vocabulary.indexed
    assert vocabulary.codes([f"K{i}" for i in range(100)]).tolist() == list(range(100))
    assert vocabulary.indexed
    vocabulary.add(["K1000"])  # a value folded in: the built table stays current
    assert vocabulary.indexed
    assert vocabulary.codes([f"K{i}" for i in range(995, 1001)]).tolist() == list(range(995, 1001))
    assert Vocabulary().indexed  # nothing to build
