"""A small world and its fitted pipeline, shared by the feature tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from features import FeaturePipeline
from synth import WorldConfig, generate_world


@dataclass
class Fitted:
    """Canonical frames of a world, the pipeline fitted on them and its features."""

    declarations: pd.DataFrame
    controls: pd.DataFrame
    filings: pd.DataFrame
    items: pd.DataFrame
    truth: pd.DataFrame
    pipeline: FeaturePipeline
    features: pd.DataFrame

    def column(self, name: str) -> np.ndarray:
        return self.features[name].to_numpy()


def fit_world(config: WorldConfig) -> Fitted:
    world = generate_world(config)
    d, c = world.frame("declarations"), world.frame("controls")
    f, i = world.frame("ens_filings"), world.frame("ens_items")
    pipeline = FeaturePipeline()
    x = pipeline.fit_transform(d, c, f, i)
    features = pd.DataFrame(x, columns=pipeline.get_feature_names_out())
    return Fitted(d, c, f, i, world.truth.to_pandas(), pipeline, features)


@pytest.fixture(scope="session")
def fitted() -> Fitted:
    """24,000 declarations over 80 days, fitted."""
    return fit_world(WorldConfig(seed=21, days=80, declarations_per_day=300))
