"""Small synthetic worlds from the project's own generator, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """The process environment as it was before each test: ``serve`` with more than one
    worker writes its settings there (what uvicorn's workers read), and a test that runs it
    in-process must not hand them to the next test (which one runs next depends on the
    order and on how the suite is split between processes)."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)
