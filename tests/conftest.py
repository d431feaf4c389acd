"""Small synthetic worlds from the project's own generator, built once per session."""

from __future__ import annotations

import pytest

from synth import World, WorldConfig, generate_world

SMALL = WorldConfig(seed=11, days=120, declarations_per_day=500)


@pytest.fixture(scope="session")
def small_world() -> World:
    """60,000 declarations over 120 days."""
    return generate_world(SMALL)


@pytest.fixture(autouse=True)
def _live_state_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """``targeting score`` saves live feature states: never into the checkout's data/."""
    monkeypatch.setenv("TARGETING_LIVE_STATE_DIR", str(tmp_path_factory.mktemp("live-state")))
