"""The synthetic world: determinism, shapes, planted schemes, biased controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from canonical.frames import read_dataset
from canonical.schema import TABLES
from synth import World, WorldConfig, generate_world, write_world
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def frames(small_world: World) -> dict[str, pd.DataFrame]:
    return {name: small_world.frame(name) for name in small_world.tables}


@pytest.fixture(scope="module")
def labelled(small_world: World, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Declarations with their planted scheme (truth), for checks only."""
    truth = small_world.truth.to_pandas()
    return frames["declarations"].merge(truth, on="declaration_id", how="left")


def test_same_seed_same_world_other_seed_other_world() -> None:
    config = WorldConfig(seed=3, days=14, declarations_per_day=200)
    a, b = generate_world(config), generate_world(config)
    for name in a.tables:
        assert a.tables[name].equals(b.tables[name]), name
    assert a.truth.equals(b.truth)
    c = generate_world(config.model_copy(update={"seed": 4}))
    assert not c.tables["declarations"].equals(a.tables["declarations"])


def test_tables_follow_the_canonical_schema(small_world: World) -> None:
    for name, table in small_world.tables.items():
        assert table.schema.equals(TABLES[name].arrow_schema()), name
        for field in TABLES[name].required:
            assert table.column(field).null_count == 0, (name, field)


def test_written_world_reads_back_equal(small_world: World, tmp_path) -> None:
    paths = write_world(small_world, tmp_path)
    back = read_dataset(tmp_path)
    assert set(back) == set(TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(back[name], small_world.frame(name))
    assert paths["truth"].parent.name == "truth"


def test_inputs_carry_no_ground_truth(frames: dict[str, pd.DataFrame]) -> None:
    truth_columns = {"scheme", "group_id", "true_hs6", "true_origin_country", "evaded_revenue"}
    for frame in frames.values():
        assert not truth_columns & set(frame.columns)


def test_party_shapes_are_realistic(frames: dict[str, pd.DataFrame]) -> None:
    decl = frames["declarations"]
    business = decl[~decl.transport_mode.isin(["postal", "express"])]
    per_importer = business.importer_id.value_counts()
    # Heavy tail: the top 1 % of importers lodge a large share of declarations.
    top = per_importer.head(max(1, len(per_importer) // 100)).sum()
    assert top / per_importer.sum() > 0.15
    # Brokers serve many importers.
    per_declarant = business.groupby("declarant_id").importer_id.nunique()
    assert per_declarant.max() >= 50
    assert 0.05 < decl.importer_aeo.mean() < 0.5
    assert set(decl.transport_mode.unique()) == {
        "maritime",
        "air",
        "road",
        "rail",
        "postal",
        "express",
    }
    assert (decl.dispatch_country != decl.origin_country).mean() > 0.01


@pytest.mark.parametrize(
    "scheme",
    [
        "undervaluation_ring",
        "shell_importer",
        "origin_laundering",
        "misclassification",
        "counterfeit_parcels",
        "air_security",
    ],
)
def test_schemes_present_at_configured_rates(labelled: pd.DataFrame, scheme: str) -> None:
    rate = getattr(SMALL.schemes, scheme)
    active = labelled
    if scheme == SMALL.drift_scheme:
        start = pd.Timestamp(SMALL.start, tz="UTC") + pd.Timedelta(
            days=int(SMALL.days * SMALL.drift_start_fraction)
        )
        active = labelled[labelled.lodged_at >= start]
        assert (labelled.scheme == scheme)[labelled.lodged_at < start].sum() == 0
    count = int((labelled.scheme == scheme).sum())
    assert count == pytest.approx(rate * len(active), rel=0.2)


def test_irregularities_between_one_and_three_percent(labelled: pd.DataFrame) -> None:
    share = labelled.scheme.notna().mean()
    assert 0.01 <= share <= 0.03


def test_aeo_traders_have_a_very_low_irregularity_rate(labelled: pd.DataFrame) -> None:
    business = labelled[~labelled.transport_mode.isin(["postal", "express"])]
    aeo = business[business.importer_aeo].scheme.notna().mean()
    other = business[~business.importer_aeo].scheme.notna().mean()
    assert aeo < 0.15 * other


def _unit_value_ratio(labelled: pd.DataFrame) -> pd.Series:
    uv = labelled.customs_value_rc / labelled.net_mass_kg
    clean = labelled.scheme.isna()
    hs6 = labelled.hs_code.str[:6]
    baseline = uv[clean].groupby([hs6[clean], labelled.origin_country[clean]]).median()
    keys = pd.MultiIndex.from_arrays([hs6, labelled.origin_country])
    return uv / baseline.reindex(keys).to_numpy()


def test_undervaluation_rings_share_broker_and_sellers_and_declare_low(
    labelled: pd.DataFrame,
) -> None:
    ring = labelled[labelled.scheme == "undervaluation_ring"]
    ratio = _unit_value_ratio(labelled)[ring.index]
    assert 0.2 < ratio.median() < 0.6
    for _, group in ring.groupby("group_id"):
        assert group.declarant_id.nunique() == 1
        assert 3 <= group.importer_id.nunique() <= 8
        assert 2 <= group.seller_id.nunique() <= 5


def test_shell_importers_are_new_and_burst(labelled: pd.DataFrame) -> None:
    shell = labelled[labelled.scheme == "shell_importer"]
    spans = shell.groupby("importer_id").lodged_at.agg(["min", "max", "count"])
    assert ((spans["max"] - spans["min"]) <= pd.Timedelta(days=28)).all()
    # The EORI is never seen before the burst and all its declarations are the scheme's.
    all_rows = labelled[labelled.importer_id.isin(spans.index)]
    assert (all_rows.scheme == "shell_importer").all()
    business = labelled[~labelled.transport_mode.isin(["postal", "express"])]
    assert shell.customs_value_rc.median() > 2 * business.customs_value_rc.median()


def test_origin_laundering_routes_anti_dumping_goods_through_a_third_country(
    small_world: World, labelled: pd.DataFrame
) -> None:
    rows = labelled[labelled.scheme == "origin_laundering"]
    assert (rows.true_origin_country == "CN").all()
    assert (rows.origin_country != "CN").all()
    ens = small_world.frame("ens_filings").drop_duplicates("filing_id")
    itinerary = rows.merge(ens, left_on="ens_id", right_on="filing_id").itinerary
    assert (itinerary.str.startswith("CN")).mean() > 0.9
    assert (rows.dispatch_country != rows.origin_country).mean() > 0.3
    assert (rows.duty_rate < rows.true_duty_rate).all()


def test_misclassification_declares_a_lower_duty_code(labelled: pd.DataFrame) -> None:
    rows = labelled[labelled.scheme == "misclassification"]
    assert (rows.hs_code.str[:4] == rows.true_hs6.str[:4]).all()
    assert (rows.hs_code.str[:6] != rows.true_hs6).all()
    assert (rows.duty_rate < rows.true_duty_rate).all()


def test_counterfeits_come_in_small_parcels_from_few_sellers(labelled: pd.DataFrame) -> None:
    rows = labelled[labelled.scheme == "counterfeit_parcels"]
    assert rows.transport_mode.isin(["postal", "express"]).all()
    assert rows.seller_id.nunique() <= 8
    assert rows.net_mass_kg.median() < 5


def test_air_security_pattern(small_world: World, labelled: pd.DataFrame) -> None:
    rows = labelled[labelled.scheme == "air_security"]
    assert (rows.transport_mode == "air").all()
    assert rows.hs_code.str[:2].isin(["28", "84", "85", "93"]).all()
    # New consignors: each is seen only in this pattern.
    assert labelled[labelled.seller_id.isin(rows.seller_id)].scheme.eq("air_security").all()


def test_controls_biased_labels_and_propensities(
    small_world: World, labelled: pd.DataFrame
) -> None:
    controls = small_world.frame("controls")
    assert controls.declaration_id.is_unique
    assert controls.declaration_id.isin(labelled.declaration_id).all()
    assert ((controls.propensity > 0) & (controls.propensity <= 1)).all()
    n = len(labelled)
    random_share = (controls.selection_basis == "random").sum() / n
    assert random_share == pytest.approx(SMALL.random_control_share, rel=0.15)
    merged = controls.merge(
        labelled[["declaration_id", "scheme", "lodged_at"]], on="declaration_id"
    )
    hit = merged.outcome != "no_irregularity"
    # Targeted controls hit more often than random ones: the labels are biased.
    by_basis = hit.groupby(merged.selection_basis).mean()
    assert by_basis["model"] > 2 * by_basis["random"]
    # Detection is imperfect: some planted frauds controlled yet not found.
    assert (merged.scheme.notna() & ~hit).sum() > 0
    assert (merged.controlled_at >= merged.lodged_at).all()
    # Revenue follows the duty evaded: only on findings, and positive for revenue risks.
    assert (controls.revenue_recovered[~hit] == 0).all()
    revenue_hits = merged[hit & merged.risk_type.isin(["undervaluation", "misclassification"])]
    assert (revenue_hits.revenue_recovered > 0).mean() > 0.9


def test_ens_filings_amended_duplicated_and_linked(small_world: World) -> None:
    filings = small_world.frame("ens_filings")
    items = small_world.frame("ens_items")
    decl = small_world.frame("declarations")
    assert (filings.version > 1).any()
    assert set(filings.filing_type) == {"pre_loading", "full"}
    assert (filings.filed_at < filings.expected_arrival).mean() > 0.99
    linked = decl.ens_id.dropna()
    assert linked.isin(filings.filing_id).all()
    assert 0.9 < len(linked) / len(decl) < 1.0
    # Duplicates: the same consignment filed twice under different filing ids.
    content = ["consignor_id", "consignee_id", "expected_arrival", "itinerary"]
    latest = filings.sort_values("version").drop_duplicates("filing_id", keep="last")
    assert latest.duplicated(content).sum() > 0
    keys = items[["filing_id", "version"]].drop_duplicates()
    assert len(keys) == len(filings)
    assert np.all(items.hs6.str.len() == 6)
