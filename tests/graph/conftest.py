"""A small generated world, the graph block fitted on it, and helpers to refit pieces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from features.blocks import ControlEvents
from features.history import control_events
from features.inputs import Inputs, inputs_from_frames
from graph import GraphBlock, GraphConfig
from synth import WorldConfig, generate_world

GRAPH_WORLD = WorldConfig(seed=3, days=60, declarations_per_day=300)


@dataclass
class Case:
    """Canonical frames of a world, the block fitted on all of it and its features."""

    declarations: pd.DataFrame
    controls: pd.DataFrame
    filings: pd.DataFrame
    items: pd.DataFrame
    inputs: Inputs
    block: GraphBlock
    features: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.features[:, self.block.feature_names().index(name)]


def events(controls: pd.DataFrame, registry: pd.Series) -> ControlEvents:
    """Control events addressed by row of ``registry`` (declaration ids in order)."""
    found, unmatched = control_events(controls, pd.Index(registry.astype(object)))
    assert not unmatched.any()
    return found


def fit(
    declarations: pd.DataFrame,
    controls: pd.DataFrame,
    filings: pd.DataFrame | None,
    items: pd.DataFrame | None,
    config: GraphConfig | None = None,
) -> GraphBlock:
    """The block fitted on canonical frames (ENS when ``filings`` is given)."""
    block = GraphBlock(config)
    inputs = inputs_from_frames(declarations, filings, items)
    block.fit(inputs, events(controls, declarations.declaration_id), None)
    return block


@pytest.fixture(scope="session")
def case() -> Case:
    """18,000 declarations over 60 days, fitted with ENS."""
    world = generate_world(GRAPH_WORLD)
    d, c = world.frame("declarations"), world.frame("controls")
    f, i = world.frame("ens_filings"), world.frame("ens_items")
    inputs = inputs_from_frames(d, f, i)
    block = GraphBlock()
    block.fit(inputs, events(c, d.declaration_id), None)
    return Case(d, c, f, i, inputs, block, block.transform(inputs))
