"""Time as int64 seconds since the Unix epoch (UTC), and the fixed snapshot grid.

Snapshot periods are anchored at the epoch, not at the data, so that states fitted
on different histories agree on where a period starts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86_400
MAX_TIME = 2**32 - 1  # event keys pack time into 32 bits: valid until 2106


def to_seconds(values: pd.Series | np.ndarray) -> np.ndarray:
    """UTC timestamps as int64 seconds since the epoch."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.DatetimeTZDtype):  # stored as UTC: no conversion needed
        ns = np.asarray(series.array.as_unit("ns").asi8, dtype=np.int64)
    else:
        ns = series.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ns // 1_000_000_000


def period_of(seconds: np.ndarray | int, period_days: int) -> np.ndarray:
    """Index of the snapshot period holding each time."""
    return np.floor_divide(seconds, period_days * DAY)


def period_start(period: np.ndarray | int, period_days: int) -> np.ndarray:
    """Start (seconds) of each snapshot period."""
    return np.asarray(period, dtype=np.int64) * period_days * DAY
