"""Numbers in API answers carry no float noise (issue 14: 0.005000000000000001)."""

from __future__ import annotations

from serving.selection import Policy
from tests.serving.conftest import RISK, headers


def test_reason_numbers_carry_no_float_noise(client, records) -> None:
    """Reason values, baselines and contributions: 6 significant digits (issue 14)."""
    answer = client.post("/v1/score", json=records[0], headers=headers(RISK)).json()
    numbers = [r[key] for r in answer["reasons"] for key in ("value", "baseline", "contribution")]
    numbers = [x for x in numbers if x is not None]
    assert numbers
    assert all(float(f"{x:.6g}") == x for x in numbers)


def test_random_arm_propensity_has_no_float_noise() -> None:
    """0.05 * 0.1 is 0.005000000000000001 in floating point; the propensity reads 0.005."""
    assert Policy(inspection_rate=0.05, exploration_share=0.1).random_probability == 0.005
