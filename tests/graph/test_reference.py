"""Exact values on a hand-made network, checked against arithmetic done by hand.

Period P (facts):  r0 I1-D1-S1 (controlled: hit), r1 I2-D1-S2 (controlled: no hit),
r2 I3-D2-S2. Queries are lodged in period P+1, so they see all of it. Global rate 1/2,
smoothing 20: a party with (h, c) among its neighbours gets (h + 10) / (c + 20).
"""

from __future__ import annotations

import numpy as np
import pytest

from features.blocks import ControlEvents
from features.inputs import Inputs
from features.timebase import DAY, period_start
from graph import GraphBlock, GraphConfig

BASE = int(period_start(700, 30))
FACTS = [("I1", "D1", "S1"), ("I2", "D1", "S2"), ("I3", "D2", "S2")]


def _inputs(
    rows: list[tuple[str, str, str]], days: list[int], carriers: list[str | None] | None
) -> Inputs:
    text = {
        "importer_id": np.array([r[0] for r in rows], dtype=object),
        "declarant_id": np.array([r[1] for r in rows], dtype=object),
        "seller_id": np.array([r[2] for r in rows], dtype=object),
    }
    ens = None
    if carriers is not None:
        present = np.array([c is not None for c in carriers])
        ens = {
            "present": present,
            "carrier_id": np.array(carriers, dtype=object),
            "consignor_id": np.where(present, text["seller_id"], None),
            "consignee_id": np.where(present, text["importer_id"], None),
        }
    time = BASE + np.asarray(days, dtype=np.int64) * DAY
    return Inputs(time=time, text=text, number={}, flag={}, ens=ens)


def _controls() -> ControlEvents:
    return ControlEvents(
        row=np.array([0, 1]),
        time=BASE + np.array([2, 3]) * DAY,
        hit=np.array([1.0, 0.0]),
        revenue=np.zeros(2),
    )


def _features(
    facts: list[tuple[str, str, str]],
    query: tuple[str, str, str],
    config: GraphConfig | None = None,
    carriers: list[str | None] | None = None,
    day: int = 31,
) -> dict[str, float]:
    block = GraphBlock(config)
    block.fit(_inputs(facts, list(range(len(facts))), carriers), _controls(), None)
    q = _inputs([query], [day], None if carriers is None else ["C1"])
    return dict(zip(block.feature_names(), block.transform(q)[0].tolist(), strict=True))


def test_degrees_rates_and_distances() -> None:
    x = _features(FACTS, ("I2", "D1", "S3"))
    assert x["graph__importer__degree"] == 2
    assert x["graph__importer__weighted_degree"] == pytest.approx(np.log1p(2))
    # D1's record (1 hit / 2 controls) without r1, which is I2's own: 1/1; S2's: 0/0.
    assert x["graph__importer__hit_rate_1hop"] == pytest.approx(11 / 21)
    # Walks I2-D1-I1 (1/1) and I2-S2-I3 (0/0).
    assert x["graph__importer__hit_rate_2hop"] == pytest.approx(11 / 21)
    assert x["graph__importer__offender_distance"] == 1
    # One component of 7 parties holding 3 hits / 6 controls, I2's own 0/1 left out.
    assert x["graph__importer__component_size"] == pytest.approx(np.log1p(7))
    assert x["graph__importer__component_hit_rate"] == pytest.approx(13 / 25)
    assert x["graph__importer__ppr"] > 0
    # D1's neighbours hold only their declarations with D1: the prior.
    assert x["graph__declarant__hit_rate_1hop"] == pytest.approx(0.5)
    assert x["graph__declarant__offender_distance"] == 0
    # S3 was never seen.
    assert x["graph__seller__degree"] == 0
    assert x["graph__seller__hit_rate_1hop"] == pytest.approx(0.5)
    assert x["graph__seller__offender_distance"] == 5
    assert x["graph__seller__ppr"] == 0


def test_pagerank_fades_with_distance_from_the_offenders() -> None:
    near = _features(FACTS, ("I2", "D2", "S3"))
    far = _features(FACTS, ("I3", "D2", "S3"))
    assert near["graph__importer__ppr"] > far["graph__importer__ppr"]
    assert far["graph__importer__ppr"] > near["graph__declarant__ppr"] > 0
    assert far["graph__importer__offender_distance"] == 3
    assert near["graph__declarant__offender_distance"] == 4
    capped = _features(FACTS, ("I3", "D2", "S3"), GraphConfig(max_distance=2))
    assert capped["graph__importer__offender_distance"] == 3
    assert capped["graph__declarant__offender_distance"] == 3


def test_hubs_are_reached_but_not_walked_through() -> None:
    facts = [*FACTS, ("I5", "D1", "S4")]  # D1 now has three importers
    plain = _features(facts, ("I2", "D1", "S3"))
    hubbed = _features(facts, ("I2", "D1", "S3"), GraphConfig(hub_degree=2))
    assert plain["graph__importer__offender_distance"] == 1
    assert hubbed["graph__importer__offender_distance"] == 5
    assert hubbed["graph__declarant__offender_distance"] == 0
    # D1's record counts 2/3 in I2's pool: (2/3 * 1 + 10) / (2/3 * 1 + 20).
    assert hubbed["graph__importer__hit_rate_1hop"] == pytest.approx(32 / 62)
    # No walk through D1: I2's only 2-hop walk (via S2) reaches I3, with no controls.
    assert hubbed["graph__importer__hit_rate_2hop"] == pytest.approx(0.5)
    assert hubbed["graph__declarant__ppr"] == 0  # hubs are not seeds and have no edges


def test_carrier_edges_count_in_degrees_only() -> None:
    x = _features(FACTS, ("I2", "D1", "S3"), carriers=["C1", "C1", None])
    assert x["graph__importer__degree"] == 3  # D1, S2 and the carrier
    assert x["graph__importer__weighted_degree"] == pytest.approx(np.log1p(3))
    assert x["graph__importer__hit_rate_1hop"] == pytest.approx(11 / 21)
    assert x["graph__importer__offender_distance"] == 1
    assert x["graph__carrier__degree"] == 4  # S1, S2, I1, I2
    assert x["graph__carrier__hit_rate_1hop"] == pytest.approx(0.5)
    assert x["graph__carrier__offender_distance"] == 0  # it carried r0


def test_pairs_leave_the_graph_a_window_after_their_last_declaration() -> None:
    """With 30-day edges, the pairs of period P are the graph of P+1 and gone by P+3;
    with the default year they stay."""
    short = GraphConfig(edge_window_days=30)
    assert _features(FACTS, ("I2", "D1", "S3"), short) == _features(FACTS, ("I2", "D1", "S3"))
    gone = _features(FACTS, ("I2", "D1", "S3"), short, day=91)
    assert gone["graph__importer__degree"] == 0
    assert gone["graph__importer__weighted_degree"] == 0
    assert gone["graph__importer__component_size"] == pytest.approx(np.log1p(1))
    assert gone["graph__importer__offender_distance"] == 5  # none within reach
    # the records stay: D1 is still the offender's declarant, at distance 0 of itself
    assert gone["graph__declarant__offender_distance"] == 0
    kept = _features(FACTS, ("I2", "D1", "S3"), day=91)
    assert kept["graph__importer__degree"] == 2
