"""Timestamp parsing: ISO 8601, strptime formats or epoch numbers, to UTC nanoseconds.

Naive times are read in the mapping's time zone; an ambiguous local time (the repeated
hour when clocks go back) is taken as the first one, a nonexistent one (the skipped hour)
is shifted forward, so no valid record is lost to daylight saving.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from canonical.ingest.mapping import ISO8601
from canonical.ingest.numbers import parse_float

UTC = "UTC"
_AWARE_ISO = (
    r"[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\s*(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)$"
)
_EMPTY = pd.Series(pd.DatetimeIndex([], tz=UTC), dtype="datetime64[ns, UTC]")


def _localise(naive: pd.Series, timezone: str) -> pd.Series:
    """Naive wall-clock times in ``timezone`` as UTC."""
    if timezone == UTC:
        return naive.dt.tz_localize(UTC)
    local = naive.dt.tz_localize(
        timezone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return local.dt.tz_convert(UTC)


def _to_datetime(values: pd.Series, fmt: str, *, utc: bool) -> pd.Series:
    """``pd.to_datetime`` with unparseable cells as NaT, at nanosecond resolution."""
    parsed = pd.to_datetime(values, format=fmt, utc=utc, errors="coerce")
    return parsed.astype("datetime64[ns, UTC]" if utc else "datetime64[ns]")


def _parse_text(text: pa.ChunkedArray, fmt: str, timezone: str) -> pd.Series:
    """Timestamps from text; explicit offsets are honoured, naive times are local."""
    strings = pd.Series(text.to_pandas(), dtype=object)
    if fmt == ISO8601:
        aware = pc.fill_null(pc.match_substring_regex(text, _AWARE_ISO), False).to_numpy(
            zero_copy_only=False
        )
    else:
        aware = np.full(len(strings), "%z" in fmt or "%Z" in fmt)
    out = pd.Series(pd.NaT, index=strings.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = _to_datetime(strings[aware], fmt, utc=True)
    naive = ~aware & strings.notna().to_numpy()
    if naive.any():
        out[naive] = _localise(_to_datetime(strings[naive], fmt, utc=False), timezone)
    return out


_EPOCH_LIMIT = {"s": 9.2e9, "ms": 9.2e12, "us": 9.2e15, "ns": 9.2e18}


def _parse_epoch(text: pa.ChunkedArray, unit: str, decimal: str) -> pd.Series:
    """Timestamps from epoch numbers in ``unit`` (beyond the nanosecond range: NaT)."""
    values, _ = parse_float(text, decimal=decimal)
    values[np.abs(values) > _EPOCH_LIMIT[unit]] = np.nan
    return pd.Series(pd.to_datetime(values, unit=unit, utc=True, errors="coerce"))


def parse_timestamps(
    text: pa.ChunkedArray,
    *,
    fmt: str | None = None,
    unit: str | None = None,
    timezone: str = UTC,
    decimal: str = ".",
) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps (NaT where empty or bad) and the mask of non-empty, unparseable cells."""
    if len(text) == 0:
        return _EMPTY.copy(), np.zeros(0, dtype=bool)
    if unit is not None:
        parsed = _parse_epoch(text, unit, decimal)
    else:
        parsed = _parse_text(text, fmt or ISO8601, timezone)
    parsed = parsed.astype("datetime64[ns, UTC]").reset_index(drop=True)
    bad = pc.is_valid(text).to_numpy() & parsed.isna().to_numpy()
    return parsed, bad
