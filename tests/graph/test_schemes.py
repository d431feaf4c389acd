"""The planted undervaluation rings (importers sharing a broker and sellers) stand out.

The controls detect the rings only partially, so the comparison is robust: medians
and means of ring rows against all other rows, in the second half of the period,
when the graph has had time to learn. Ground truth is used here only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.inputs import inputs_from_frames
from synth import World
from tests.graph.conftest import events, fit


@pytest.fixture(scope="module")
def ring_features(small_world: World) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of the late rows, and which of them belong to a ring."""
    d, c = small_world.frame("declarations"), small_world.frame("controls")
    block = fit(d, c, None, None)
    truth = small_world.truth.to_pandas()
    ring = d.declaration_id.isin(truth.declaration_id[truth.scheme == "undervaluation_ring"])
    middle = d.lodged_at.min() + (d.lodged_at.max() - d.lodged_at.min()) / 2
    late = (d.lodged_at >= middle).to_numpy()
    x = pd.DataFrame(block.transform(inputs_from_frames(d[late])), columns=block.feature_names())
    assert len(events(c, d.declaration_id)) > 0
    return x, ring.to_numpy()[late]


@pytest.mark.parametrize("feature", ["hit_rate_1hop", "hit_rate_2hop", "community_hit_rate"])
def test_ring_importers_sit_among_offenders(ring_features, feature: str) -> None:
    x, ring = ring_features
    assert ring.sum() >= 50
    values = x[f"graph__importer__{feature}"].to_numpy()
    assert np.median(values[ring]) > 2 * np.median(values[~ring])
    assert values[ring].mean() > 2 * values[~ring].mean()


def test_ring_importers_get_more_pagerank_and_are_closer_to_offenders(ring_features) -> None:
    x, ring = ring_features
    ppr = x["graph__importer__ppr"].to_numpy()  # log scale: +1 is e times the mass
    assert np.median(ppr[ring]) > np.median(ppr[~ring]) + 1
    assert ppr[ring].mean() > ppr[~ring].mean() + 1
    distance = x["graph__importer__offender_distance"].to_numpy()
    assert distance[ring].mean() < distance[~ring].mean()
