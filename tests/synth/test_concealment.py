"""The concealment drift scheme: clean established importers start hiding undeclared goods
mid-period, with nothing in the declared fields to betray it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synth import World, WorldConfig, generate_world
from synth.catalogue import (
    AIR_SECURITY_ORIGINS,
    ANTI_DUMPING_CHAPTERS,
    CONCEALMENT_CHAPTERS,
    CONCEALMENT_ORIGINS,
    COUNTERFEIT_SELLER_COUNTRIES,
    IPR_CHAPTERS,
    LAUNDERING_TRANSIT_ORIGINS,
    RING_CHAPTERS,
    RING_SELLER_COUNTRIES,
    SECURITY_CHAPTERS,
    SHELL_CHAPTERS,
)
from synth.reveal import ControlModel, reveal

CONFIG = WorldConfig(
    seed=5, days=80, declarations_per_day=300, drift_scheme="concealment", drift_start_fraction=0.5
)
START = pd.Timestamp(CONFIG.start, tz="UTC") + pd.Timedelta(days=40)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(CONFIG)


@pytest.fixture(scope="module")
def labelled(world: World) -> pd.DataFrame:
    """Declarations with their planted scheme (truth), for checks only."""
    truth = world.truth.to_pandas()
    return world.frame("declarations").merge(truth, on="declaration_id", how="left")


@pytest.fixture(scope="module")
def hidden(labelled: pd.DataFrame) -> pd.DataFrame:
    return labelled[labelled.scheme == "concealment"]


def _trade(labelled: pd.DataFrame, hidden: pd.DataFrame) -> pd.Series:
    """Rows of the group's importers in the scheme's chapters and origin (whole period)."""
    return (
        labelled.importer_id.isin(hidden.importer_id)
        & labelled.hs_code.str[:2].isin(hidden.hs_code.str[:2])
        & labelled.origin_country.isin(hidden.origin_country)
    )


def test_unknown_drift_scheme_is_refused() -> None:
    with pytest.raises(ValidationError, match="drift_scheme"):
        WorldConfig(drift_scheme="smuggling")


def test_concealment_trade_is_no_other_schemes() -> None:
    others = {*RING_CHAPTERS, *SHELL_CHAPTERS, *IPR_CHAPTERS, *SECURITY_CHAPTERS}
    assert not set(CONCEALMENT_CHAPTERS) & (others | set(ANTI_DUMPING_CHAPTERS))
    countries = {*RING_SELLER_COUNTRIES, *COUNTERFEIT_SELLER_COUNTRIES, *AIR_SECURITY_ORIGINS}
    assert not set(CONCEALMENT_ORIGINS) & (countries | set(LAUNDERING_TRANSIT_ORIGINS) | {"CN"})


def test_only_from_the_start_at_the_configured_rate(labelled: pd.DataFrame) -> None:
    rows = labelled.scheme == "concealment"
    assert rows.sum() > 0
    assert (labelled.lodged_at[rows] >= START).all()
    active = int((labelled.lodged_at >= START).sum())
    assert rows.sum() == pytest.approx(CONFIG.schemes.concealment * active, rel=0.35)
    assert (labelled.risk_type[rows] == "other").all()


def test_a_few_established_clean_importers_in_one_trade(
    labelled: pd.DataFrame, hidden: pd.DataFrame
) -> None:
    group = hidden.importer_id.unique()
    assert 1 <= len(group) <= 8
    assert hidden.group_id.nunique() == len(group)
    assert not hidden.importer_aeo.any()
    mine = labelled[labelled.importer_id.isin(group)]
    before = mine[mine.lodged_at < START]
    assert set(before.importer_id) == set(group)  # all lodged before the start
    assert before.scheme.isna().all()  # none irregular before it
    assert hidden.origin_country.nunique() == 1
    assert hidden.origin_country.iloc[0] in CONCEALMENT_ORIGINS
    assert 1 <= hidden.hs_code.str[:2].nunique() <= 2
    assert hidden.hs_code.str[:2].isin(CONCEALMENT_CHAPTERS).all()
    trade = labelled[_trade(labelled, hidden) & (labelled.lodged_at >= START)]
    assert 0.55 <= (trade.scheme == "concealment").mean() <= 0.85


def test_nothing_declared_betrays_it(labelled: pd.DataFrame, hidden: pd.DataFrame) -> None:
    assert (hidden.hs_code.str[:6] == hidden.true_hs6).all()
    assert (hidden.origin_country == hidden.true_origin_country).all()
    assert (hidden.dispatch_country == hidden.origin_country).all()
    # The hidden goods raise only the true value (the revenue evaded).
    assert (hidden.true_customs_value_rc > hidden.customs_value_rc).all()
    assert (hidden.evaded_revenue > 0).all()
    # Same parties and same goods as the group's clean trade before the start.
    clean = labelled[_trade(labelled, hidden) & (labelled.lodged_at < START)]
    assert len(clean) >= 20
    assert set(hidden.seller_id) <= set(clean.seller_id)
    assert set(hidden.declarant_id.dropna()) <= set(clean.declarant_id.dropna())

    def medians(frame: pd.DataFrame) -> np.ndarray:
        mass = np.log(frame.net_mass_kg)
        return np.array([(np.log(frame.customs_value_rc) - mass).median(), mass.median()])

    assert np.abs(medians(hidden) - medians(clean)) == pytest.approx(0, abs=0.6)


def test_the_rest_of_the_world_is_as_without_it(world: World, labelled: pd.DataFrame) -> None:
    """Its own random stream: other rows trade as in the world without the scheme (later
    draws such as offices and currencies may shift), and every other scheme is the same."""
    rates = CONFIG.schemes.model_copy(update={"concealment": 0})
    bare = generate_world(CONFIG.model_copy(update={"schemes": rates}))
    hidden = labelled[labelled.scheme == "concealment"]
    # Rows of the scheme's trade, the group's members without a hidden row included.
    moved = (
        labelled.hs_code.str[:2].isin(hidden.hs_code.str[:2])
        & labelled.origin_country.isin(hidden.origin_country)
    ).to_numpy()
    columns = [
        "declaration_id", "lodged_at", "importer_id", "seller_id", "origin_country",
        "dispatch_country", "hs_code", "net_mass_kg", "transport_mode",
    ]  # fmt: skip
    a = world.frame("declarations")[~moved][columns].reset_index(drop=True)
    b = bare.frame("declarations")[~moved][columns].reset_index(drop=True)
    b["hs_code"], a["hs_code"] = b.hs_code.str[:6], a.hs_code.str[:6]
    pd.testing.assert_frame_equal(a, b)
    truth, bare_truth = world.truth.to_pandas(), bare.truth.to_pandas()
    assert "concealment" not in set(bare_truth.scheme)
    others = truth[truth.scheme != "concealment"].reset_index(drop=True)
    pd.testing.assert_series_equal(others.declaration_id, bare_truth.declaration_id)
    pd.testing.assert_series_equal(others.scheme, bare_truth.scheme)


def test_controls_find_it_as_other_risk(world: World, hidden: pd.DataFrame) -> None:
    model = ControlModel.of(world.frame("declarations"), world.truth)
    assert (model.scheme == "concealment").sum() == len(hidden)
    rows = np.flatnonzero(model.scheme == "concealment")
    found = reveal(world, rows, np.random.default_rng(0))
    assert (found.outcome == "irregularity").any()
    assert set(found.risk_type.dropna()) == {"other"}
    assert found.revenue_recovered.sum() > 0
