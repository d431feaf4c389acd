"""The bundle's drift reference: PSI as training computes it, unseen values, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.drift import DriftReference, aligned, hs6, value_hashes
from training.drift import drift_summary, drift_table, psi


def _reference(rng: np.random.Generator) -> tuple[DriftReference, np.ndarray]:
    x = np.column_stack([rng.normal(size=4000), rng.poisson(0.3, 4000).astype(float)])
    x[::50, 1] = np.nan
    seen = {"importer_id": [f"IM{i}" for i in range(300)], "hs6": ["851712", "620342"]}
    ref = DriftReference.fit(["a", "b"], x, rng.random(4000), seen, "test")
    return ref, x


def test_feature_psi_is_training_drifts_psi() -> None:
    rng = np.random.default_rng(0)
    ref, x = _reference(rng)
    now = np.column_stack([rng.normal(0.5, 1, 3000), rng.poisson(0.6, 3000).astype(float)])
    got = ref.feature_psi(now)
    assert got == pytest.approx([psi(x[:, 0], now[:, 0]), psi(x[:, 1], now[:, 1])])


def test_a_shift_shows_and_the_same_distribution_does_not() -> None:
    rng = np.random.default_rng(1)
    ref, _ = _reference(rng)
    same = np.column_stack([rng.normal(size=4000), rng.poisson(0.3, 4000).astype(float)])
    same[::50, 1] = np.nan  # as many missing values as the reference
    moved = np.column_stack([rng.normal(1.0, 1, 4000), rng.poisson(0.3, 4000).astype(float)])
    assert ref.feature_psi(same).max() < 0.02
    assert ref.feature_psi(moved)[0] > 0.25
    assert ref.score_psi(rng.random(3000)) < 0.02
    assert ref.score_psi(rng.random(3000) ** 3) > 0.25
    table = drift_table(ref, moved)
    assert table["feature"].iloc[0] == "a"
    assert table["verdict"].iloc[0] == "different"


def test_unseen_rates_count_rows_whose_value_training_never_held() -> None:
    ref, _ = _reference(np.random.default_rng(2))
    values = {
        "importer_id": ["IM1", "IM2", "NEW1", None, "NEW1"],
        "hs6": hs6(["8517120000", "9999990000", None]),
        "seller_id": ["S1"],  # no reference for this column
    }
    rates = ref.unseen_rates(values)
    assert rates["importer_id"] == pytest.approx(2 / 4)  # None is not a party
    assert rates["hs6"] == pytest.approx(1 / 2)
    assert np.isnan(rates["seller_id"])
    summary = drift_summary(ref, np.zeros((3, 2)), np.full(3, 0.5), values)
    assert summary["unseen_party_rate"] == pytest.approx(0.5)
    assert summary["unseen_code_rate"] == pytest.approx(0.5)
    assert set(summary["top_features"]) == {"a", "b"}


def test_round_trip_and_older_bundles(tmp_path: Path) -> None:
    ref, x = _reference(np.random.default_rng(3))
    ref.save(tmp_path)
    back = DriftReference.load(tmp_path)
    assert back is not None
    assert back.feature_psi(x[:500]) == pytest.approx(ref.feature_psi(x[:500]))
    assert np.array_equal(back.seen["importer_id"], value_hashes(f"IM{i}" for i in range(300)))
    assert DriftReference.load(tmp_path / "elsewhere") is None


def test_columns_are_aligned_by_name() -> None:
    ref, _ = _reference(np.random.default_rng(4))
    got = aligned(ref, ["b", "other"], np.array([[1.0, 2.0]]))
    assert np.isnan(got[0, 0])
    assert got[0, 1] == 1.0


def test_features_the_model_does_not_read_are_not_listed(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(size=3000), rng.normal(size=3000)])
    ref = DriftReference.fit(
        ["read", "unread"], x, rng.random(3000), {}, used=np.array([True, False])
    )
    ref.save(tmp_path)
    back = DriftReference.load(tmp_path)
    assert back is not None
    assert back.used_mask.tolist() == [True, False]
    moved = np.column_stack([rng.normal(size=3000), rng.normal(3, 1, 3000)])  # "unread" moves
    summary = drift_summary(back, moved, rng.random(3000))
    assert list(summary["top_features"]) == ["read"]
    assert summary["psi_max"] < 0.05
    assert summary["psi_max_all_features"] > 1.0
    assert drift_table(back, moved).set_index("feature").loc["unread", "used_by_model"] == False  # noqa: E712
