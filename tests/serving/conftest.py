"""A real tiny trained bundle (generated world, fast training config), built once per
session, and apps serving it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings
from tests.serving.records import declaration_records

PEPPER = "pepper-for-tests-0123456789"
ADMIN = "admin-key-0001"
RISK = "risk-engine-key-0001"
ANALYST = "analyst-key-0001"
KEYS = {ADMIN: "admin", RISK: "risk-engine", ANALYST: "analyst"}


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


@dataclass(frozen=True)
class Trained:
    """The session's trained model: bundle, tracking store and the world it came from."""

    bundle: Path
    mlruns: Path
    world: Path
    frames: dict[str, pd.DataFrame]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """90 days x 300 declarations, 100 boosting rounds, 2 network epochs: about 30 s."""
    from models.lgbm import TreeConfig
    from models.train_network import NetworkConfig
    from synth import WorldConfig, generate_world, write_world
    from training.sources import canonical_frames
    from training.tracking import promote
    from training.train import TrainConfig, train

    world = tmp_path_factory.mktemp("world")
    write_world(generate_world(WorldConfig(seed=3, days=90, declarations_per_day=300)), world)
    frames = canonical_frames(world)
    mlruns = tmp_path_factory.mktemp("mlruns")
    config = TrainConfig(
        tree=TreeConfig(max_rounds=100, threads=1), network=NetworkConfig(epochs=2, patience=1)
    )
    result = train(frames, mlruns, config, work_dir=tmp_path_factory.mktemp("train"))
    promote(mlruns, result.registered.version)
    return Trained(result.bundle, mlruns, world, frames)


@pytest.fixture(scope="session")
def records(trained: Trained) -> list[dict[str, Any]]:
    """The last 600 declarations of the world as clients send them (ENS embedded)."""
    f = trained.frames
    return declaration_records(f["declarations"].tail(600), f["ens_filings"], f["ens_items"])


def make_settings(trained: Trained, directory: Path, **overrides: Any) -> ServingSettings:
    """Settings serving the session's bundle, with a decision log under ``directory``."""
    values: dict[str, Any] = {
        "model_uri": str(trained.bundle),
        "mlruns_dir": trained.mlruns,
        "model_cache_dir": directory / "cache",
        "decision_db": directory / "decisions.sqlite",
        "live_state_dir": directory / "live-state",
        "device": "cpu",
        "api_key_pepper": PEPPER,
        "api_keys": KEYS,
        "selection_window": 500,
        "selection_warmup": 100,
        "selection_seed": 7,
        "batch_max_wait_ms": 2.0,
    }
    values.update(overrides)
    return ServingSettings(**values)


@pytest.fixture(scope="module")
def settings(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    return make_settings(trained, tmp_path_factory.mktemp("serving"))


@pytest.fixture(scope="module")
def client(settings: ServingSettings) -> Iterator[TestClient]:
    """A started app (lifespan run) shared by a test module."""
    with TestClient(create_app(settings)) as c:
        yield c
