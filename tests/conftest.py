"""Small synthetic worlds from the project's own generator, built once per session."""

from __future__ import annotations

import pytest

from synth import World, WorldConfig, generate_world

SMALL = WorldConfig(seed=11, days=120, declarations_per_day=500)


@pytest.fixture(scope="session")
def small_world() -> World:
    """60,000 declarations over 120 days."""
    return generate_world(SMALL)
