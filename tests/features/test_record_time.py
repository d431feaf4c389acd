"""Record timestamps: the fast path agrees with pandas on every form the API may pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from features.inputs import _record_time


def _pandas_seconds(value: object) -> int:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000_000)


@pytest.mark.parametrize(
    "value",
    [
        "2025-12-31T12:59:37+00:00",
        "2025-12-31T12:59:37Z",
        "2025-12-31T12:59:37.999+02:00",
        "2025-12-31T12:59:37.5",
        "2025-12-31",
        "1969-12-31T23:59:59.5Z",
        datetime(2025, 1, 1, 3, 4, 5, 600000),
        datetime(2025, 1, 1, 3, 4, 5, tzinfo=timezone(timedelta(hours=-3))),
        datetime(2025, 6, 1, tzinfo=UTC),
        pd.Timestamp("2025-02-03 04:05:06.7", tz="Europe/Paris"),
        np.datetime64("2025-01-01T00:00:01.5"),
    ],
)
def test_record_time_is_floored_utc_seconds(value: object) -> None:
    assert _record_time(value) == _pandas_seconds(value)
