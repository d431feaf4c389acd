"""The run's smoothing strengths: estimated on the training window, logged, in the bundle."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from features import FeaturePipeline
from features.profiles import ProfileBlock
from graph.pipeline_blocks import all_blocks
from models.bundle import FEATURES_DIR, read_bundle
from training.train import TrainResult


def test_the_bundle_smooths_with_the_strengths_of_the_training_window(
    frames: dict[str, pd.DataFrame], trained: tuple[TrainResult, Path]
) -> None:
    result = trained[0]
    bundle = FeaturePipeline.load(result.bundle / FEATURES_DIR, all_blocks())
    given = dict(bundle.block("profiles").config.strengths)  # type: ignore[attr-defined]
    logged = {
        k.removeprefix("profile_strength__"): v
        for k, v in result.metrics.items()
        if k.startswith("profile_strength__")
    }
    assert set(given) == set(logged) >= {"importer", "hs6", "hs6_origin"}
    assert given == pytest.approx(logged)
    window = read_bundle(result.bundle).manifest["training_window"]
    valid_start = int(datetime.fromisoformat(window["valid_start"]).timestamp())
    fresh = FeaturePipeline(all_blocks()).fit(
        frames["declarations"], frames["controls"], frames["ens_filings"], frames["ens_items"]
    )
    profiles = fresh.block("profiles")
    assert isinstance(profiles, ProfileBlock)
    assert profiles.estimated_strengths(valid_start) == pytest.approx(given)
    assert profiles.estimated_strengths(int(1e10)) != pytest.approx(given)
