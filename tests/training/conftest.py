"""One generated world and one training run on it, shared by the training tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from synth import WorldConfig, generate_world, write_world
from training.train import TrainConfig, TrainResult, train

FAST = TrainConfig(
    tree=TreeConfig(max_rounds=200, threads=1), network=NetworkConfig(epochs=6, patience=2)
)


@dataclass(frozen=True)
class Served:
    """What the trained bundle's CPU scorer gives every declaration of the world."""

    manifest: dict
    lodged: np.ndarray  # seconds
    score: np.ndarray
    expected_revenue: np.ndarray

    def window(self, name: str) -> np.ndarray:
        """Mask of the declarations lodged in a window of the manifest ('valid' or 'test')."""
        w = {
            k: datetime.fromisoformat(v).timestamp()
            for k, v in self.manifest["training_window"].items()
        }
        if name == "valid":
            return (self.lodged >= w["valid_start"]) & (self.lodged < w["test_start"])
        return self.lodged >= w["test_start"]


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(WorldConfig(seed=3, days=150, declarations_per_day=600)), out)
    return out


@pytest.fixture(scope="session")
def frames(world_dir: Path) -> dict[str, pd.DataFrame]:
    from training.sources import canonical_frames

    return canonical_frames(world_dir)


@pytest.fixture(scope="session")
def trained(
    frames: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainResult, Path]:
    mlruns = tmp_path_factory.mktemp("mlruns")
    return train(frames, mlruns, FAST), mlruns


@pytest.fixture(scope="session")
def served(frames: dict[str, pd.DataFrame], trained: tuple[TrainResult, Path]) -> Served:
    """Score the whole history with the bundle, as serving would (CPU graph)."""
    from features import FeaturePipeline
    from features.state_io import load_state
    from features.timebase import to_seconds
    from graph.pipeline_blocks import all_blocks
    from models.bundle import ENCODER_DIR, FEATURES_DIR, SCORER_CPU, read_bundle
    from models.encoding import CategoryEncoder
    from models.runtime import OnnxScorer

    bundle = trained[0].bundle
    d = frames["declarations"]
    # The bundle's settings (smoothing strengths), refitted on the whole history.
    config = FeaturePipeline.load(bundle / FEATURES_DIR, all_blocks()).block("profiles").config
    pipeline = FeaturePipeline(all_blocks(profile=config))
    x = pipeline.fit_transform(
        d, frames["controls"], frames.get("ens_filings"), frames.get("ens_items")
    )
    encoder = CategoryEncoder.from_state(load_state(bundle / ENCODER_DIR))
    codes = encoder.transform(pipeline.fitted_inputs_)
    out = OnnxScorer(bundle / SCORER_CPU, device="cpu").run(x.astype(np.float32), codes)
    return Served(
        read_bundle(bundle).manifest,
        to_seconds(d["lodged_at"]),
        out["score"].astype(np.float64),
        out["expected_revenue"].astype(np.float64),
    )
