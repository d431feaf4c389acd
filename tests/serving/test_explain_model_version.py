"""An explanation made with another model version than the decision's says so."""

from __future__ import annotations

import pytest

from serving.explain.page import render_explanation
from serving.explain.record import explain_record, make_record

try:  # tests/serving without __init__.py: pytest put this folder on sys.path
    from test_explain_support import ExplainWorld, world_for
except ImportError:  # tests/serving as a package
    from tests.serving.test_explain_support import ExplainWorld, world_for


@pytest.fixture(scope="module")
def ew(request: pytest.FixtureRequest) -> ExplainWorld:
    return world_for(request)


def _record(ew: ExplainWorld, version: str) -> dict:
    declaration = ew.declaration(str(ew.recent(1).declaration_id.iloc[0]))
    model = {"name": "targeting", "version": version, "alias": "champion"}
    return make_record(declaration, ew.scorer, {"selected": False, "model": model})


def test_a_decision_of_another_version_is_flagged(ew: ExplainWorld) -> None:
    notes = explain_record(_record(ew, "7"), ew.scorer, model_version="8").notes
    assert any("made by model version 7" in n and "loaded now (8)" in n for n in notes)
    assert "made by model version 7" in render_explanation(_record(ew, "7"), ew.scorer, "8")


def test_a_decision_of_the_loaded_version_is_not_flagged(ew: ExplainWorld) -> None:
    notes = explain_record(_record(ew, "8"), ew.scorer, model_version="8").notes
    assert not any("made by model version" in n for n in notes)
