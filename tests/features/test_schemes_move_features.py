"""Each planted scheme moves at least one feature of its group clearly (ground truth used
only here, to check the features, never as an input)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.features.conftest import Fitted


@pytest.fixture(scope="module")
def frame(fitted: Fitted) -> pd.DataFrame:
    x = fitted.features.copy()
    truth = fitted.declarations[["declaration_id"]].merge(fitted.truth, how="left")
    x["scheme"] = truth["scheme"].fillna("none").to_numpy()
    # Skip the first month: baselines and profiles need a history.
    start = fitted.declarations.lodged_at.min() + pd.Timedelta(days=31)
    return x[(fitted.declarations.lodged_at > start).to_numpy()]


def _median(frame: pd.DataFrame, scheme: str, column: str) -> tuple[float, float]:
    rows = frame.scheme == scheme
    return float(frame.loc[rows, column].median()), float(
        frame.loc[frame.scheme == "none", column].median()
    )


def test_undervaluation_rings_declare_far_below_the_baseline(frame: pd.DataFrame) -> None:
    ring, clean = _median(frame, "undervaluation_ring", "uv_kg_z__hs6")
    assert ring < -1.5
    assert abs(clean) < 0.3


def test_shell_importers_are_new_and_high_value(frame: pd.DataFrame) -> None:
    shell, clean = _median(frame, "shell_importer", "importer__days_since_first")
    assert shell < 28  # bursts last two to four weeks
    assert clean > 1.5 * shell
    shell_value, clean_value = _median(frame, "shell_importer", "log_value")
    assert shell_value > clean_value + 1


def test_origin_laundering_shows_on_the_route(frame: pd.DataFrame) -> None:
    rows = frame[frame.scheme == "origin_laundering"]
    clean = frame[frame.scheme == "none"]
    assert rows.loading_differs_origin.mean() > 0.8
    assert clean.loading_differs_origin.mean() < 0.3


def test_misclassification_sits_below_its_heading_duty(frame: pd.DataFrame) -> None:
    miscl, clean = _median(frame, "misclassification", "duty_spread_hs4")
    assert miscl > clean + 0.02
    rows = frame[frame.scheme == "misclassification"]
    assert rows.ens_hs6_mismatch.mean() > 0.25
    assert frame[frame.scheme == "none"].ens_hs6_mismatch.mean() < 0.02


def test_counterfeit_parcels_come_from_sellers_with_a_hit_history(frame: pd.DataFrame) -> None:
    fake, clean = _median(frame, "counterfeit_parcels", "seller__hit_rate")
    assert fake > 2 * clean


def test_air_security_uses_rare_routes_and_new_consignors(frame: pd.DataFrame) -> None:
    rare, clean = _median(frame, "air_security", "route_rarity")
    assert rare > clean + 2
    rows = frame[frame.scheme == "air_security"]
    assert (rows.seller__n365d <= 2).mean() > 0.8
