"""Per-month metrics partition the window; PSI against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.metrics import at_budget
from training.drift import FLOOR, psi, psi_summary, psi_table
from training.monthly import month_of, monthly_metric_dict, monthly_metrics


def _window(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    start = int(pd.Timestamp("2025-10-20", tz="UTC").timestamp())
    seconds = np.sort(start + rng.integers(0, 70 * 86_400, n))  # late Oct to late Dec
    scores = rng.random(n)
    y = (rng.random(n) < scores * 0.2).astype(float)
    revenue = y * rng.lognormal(6, 1, n)
    return scores, y, revenue, seconds


def test_months_partition_the_window_and_rank_on_their_own() -> None:
    scores, y, revenue, seconds = _window()
    table = monthly_metrics(scores, y, revenue, seconds)
    assert table["month"].tolist() == ["2025-10", "2025-11", "2025-12"]
    assert table["rows"].sum() == len(y)
    assert table["positives"].sum() == y.sum()
    months = month_of(seconds)
    for record in table.to_dict("records"):
        rows = months == record["month"]
        for n in (1, 5, 10):
            expected = at_budget(scores[rows], y[rows], revenue[rows], n)
            for name in ("precision", "recall", "revenue"):
                assert record[f"{name}_at_{n}"] == pytest.approx(expected[name])
    # a month's top 5 % is not the pooled top 5 % restricted to it
    pooled = at_budget(scores, y, revenue, 5)["precision"]
    assert table["precision_at_5"].tolist() != [pooled] * 3


def test_month_boundaries_are_utc_calendar_months() -> None:
    t = pd.to_datetime(["2025-10-31 23:59:59", "2025-11-01 00:00:00"], utc=True)
    assert month_of(t.astype("int64") // 10**9).tolist() == ["2025-10", "2025-11"]


def test_monthly_metrics_flatten_to_named_mlflow_keys() -> None:
    scores, y, revenue, seconds = _window()
    flat = monthly_metric_dict(monthly_metrics(scores, y, revenue, seconds), "test_blend_")
    assert "test_blend_precision_at_5_month_2025-11" in flat
    assert flat["test_blend_rows_month_2025-12"] + flat["test_blend_rows_month_2025-11"] < 3000
    assert sum(v for k, v in flat.items() if k.startswith("test_blend_positives_month")) == y.sum()


def test_psi_of_a_tiny_example_matches_the_hand_computation() -> None:
    reference = np.arange(100.0)  # deciles: ten bins of 10 values
    current = np.arange(5.0)  # everything in the first bin
    by_hand = (1 - 0.1) * math.log(1 / 0.1) + 9 * (FLOOR - 0.1) * math.log(FLOOR / 0.1)
    assert psi(reference, current) == pytest.approx(by_hand)
    assert psi(reference, reference) == pytest.approx(0.0)
    shifted = np.arange(100.0) + 10  # bins 2-10 get 0.1 each, the last gets 0.2, first none
    by_hand = (FLOOR - 0.1) * math.log(FLOOR / 0.1) + (0.2 - 0.1) * math.log(0.2 / 0.1)
    assert psi(reference, shifted) == pytest.approx(by_hand)


def test_psi_counts_missing_values_in_a_bin_of_their_own_and_merges_tied_bins() -> None:
    reference = np.r_[np.zeros(80), np.arange(1.0, 21.0)]  # 80 % zeros: deciles tie at 0
    half_missing = np.r_[np.zeros(40), np.full(40, np.nan), np.arange(1.0, 21.0)]
    # bins: (-inf, 0] 0.8 -> 0.4; the rest as before; missing 0 -> 0.4
    by_hand = (0.4 - 0.8) * math.log(0.4 / 0.8) + (0.4 - FLOOR) * math.log(0.4 / FLOOR)
    assert psi(reference, half_missing) == pytest.approx(by_hand)


def test_psi_table_and_summary() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(5000, 3))
    cur = np.c_[rng.normal(size=5000), rng.normal(3, 1, 5000), rng.normal(size=5000)]
    table = psi_table(["a", "b", "c"], ref, cur, {"b": "g"}, np.array([True, False, True]))
    assert table["feature"].iloc[0] == "b"
    assert table["group"].iloc[0] == "g"
    summary = psi_summary(table)
    assert summary["psi_count_over_0_25"] == 1
    assert summary["psi_used_count_over_0_25"] == 0
    assert summary["psi_max"] == table["psi"].max()
    assert summary["psi_used_max"] < 0.05
