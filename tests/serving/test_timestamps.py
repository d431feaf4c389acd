"""Timestamps are ISO-8601 date-times as the docs say: epochs and dates alone are refused
with a field error (single, batch and control results alike); zones are honoured and a
time without one is UTC."""

from __future__ import annotations

import pytest

from serving.examples import EXAMPLE_CONTROL_RESULT, EXAMPLE_DECLARATION
from serving.schemas import DECLARATION
from tests.serving.conftest import ANALYST, RISK, headers

REFUSED = [1_740_000_000, 1.74e9, "1740000000", "2025-03-01", "2025-03-01T08", True]


@pytest.mark.parametrize("value", REFUSED)
def test_a_number_or_a_date_alone_is_a_field_error(client, value) -> None:
    single = client.post(
        "/v1/score", json={**EXAMPLE_DECLARATION, "lodged_at": value}, headers=headers(RISK)
    )
    assert single.status_code == 422
    (error,) = single.json()["detail"]
    assert error["loc"] == ["body", "lodged_at"]
    assert "ISO-8601" in error["msg"]
    batch = client.post(
        "/v1/score/batch",
        json={"declarations": [{**EXAMPLE_DECLARATION, "lodged_at": value}]},
        headers=headers(RISK),
    )
    assert batch.status_code == 200
    assert [e["loc"] for e in batch.json()["errors"]] == [["lodged_at"]]
    control = client.post(
        "/v1/control-results",
        json={"results": [{**EXAMPLE_CONTROL_RESULT, "controlled_at": value}]},
        headers=headers(ANALYST),
    )
    assert control.status_code == 422
    assert control.json()["detail"][0]["loc"] == ["body", "results", 0, "controlled_at"]


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2025-03-01T08:30:00Z", "2025-03-01T08:30:00Z"),
        ("2025-03-01T09:30:00+01:00", "2025-03-01T08:30:00Z"),
        ("2025-03-01 08:30:00", "2025-03-01T08:30:00Z"),
        ("2025-03-01T08:30:00.250Z", "2025-03-01T08:30:00.250000Z"),
    ],
)
def test_date_times_are_read_in_their_zone_or_utc(given, utc) -> None:
    parsed = DECLARATION.validate_python({**EXAMPLE_DECLARATION, "lodged_at": given})
    assert parsed["lodged_at"].isoformat().replace("+00:00", "Z") == utc
