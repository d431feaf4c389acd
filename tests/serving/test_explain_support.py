"""A small trained bundle shared by the explanation tests (one per test session).

Not a test module of its own. ``world_for(request)`` reuses the session's ``trained``
bundle of ``tests/serving/conftest.py`` when that fixture exists (one training for the
whole serving suite); otherwise ``explain_world()`` trains on a 120-day synthetic world
(~20 s) the first time it is called and caches the result for every later caller.
"""

from __future__ import annotations

import atexit
import functools
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from serving.explain.record import declaration_from_frames
from serving.scoring import Scorer
from synth import WorldConfig, generate_world
from training.train import TrainConfig, train

WORLD = WorldConfig(seed=5, days=120, declarations_per_day=400)
SMALL_TRAINING = TrainConfig(
    tree=TreeConfig(max_rounds=80, early_stopping=20),
    network=NetworkConfig(epochs=2, patience=1),
)


@dataclass(frozen=True)
class ExplainWorld:
    """The scorer of a freshly trained bundle and the canonical frames it was trained on."""

    scorer: Scorer
    frames: dict[str, pd.DataFrame]
    directory: Path

    @property
    def declarations(self) -> pd.DataFrame:
        return self.frames["declarations"]

    def declaration(self, declaration_id: str) -> dict[str, Any]:
        """The canonical dict of one declaration with its ENS embedded."""
        return declaration_from_frames(
            self.declarations,
            declaration_id,
            self.frames.get("ens_filings"),
            self.frames.get("ens_items"),
        )

    def recent(self, n: int) -> pd.DataFrame:
        """The ``n`` latest declarations (by lodging time)."""
        return self.declarations.sort_values("lodged_at").tail(n)


@functools.cache
def explain_world() -> ExplainWorld:
    """Train the shared bundle (first call only)."""
    directory = Path(tempfile.mkdtemp(prefix="explain-tests-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    world = generate_world(WORLD)
    frames = {name: world.frame(name) for name in world.tables}
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(frames, directory / "mlruns", SMALL_TRAINING, work_dir=directory / "work")
    return ExplainWorld(Scorer.from_bundle(result.bundle, device="cpu"), frames, directory)


@functools.cache
def _from_bundle(bundle: Path, frames_key: int) -> ExplainWorld:
    frames = _FRAMES[frames_key]
    return ExplainWorld(Scorer.from_bundle(bundle, device="cpu"), frames, bundle)


_FRAMES: dict[int, dict[str, pd.DataFrame]] = {}


def world_for(request: pytest.FixtureRequest) -> ExplainWorld:
    """The session's shared bundle (``trained`` fixture) if there is one, else our own."""
    try:
        trained = request.getfixturevalue("trained")
    except pytest.FixtureLookupError:
        return explain_world()
    bundle, frames = getattr(trained, "bundle", None), getattr(trained, "frames", None)
    if bundle is None or not isinstance(frames, dict) or "declarations" not in frames:
        return explain_world()
    _FRAMES[id(frames)] = frames
    return _from_bundle(Path(bundle), id(frames))
