"""Arrow helpers that turn index arrays into string and timestamp columns quickly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def take(dictionary: Sequence[str] | np.ndarray, idx: np.ndarray) -> pa.Array:
    """Strings ``dictionary[idx]``; negative indices give nulls."""
    strings = pa.array(np.asarray(dictionary, dtype=object), pa.string())
    mask = np.asarray(idx) < 0
    return strings.take(pa.array(np.where(mask, 0, idx), mask=mask))


def serial_ids(prefix: pa.Array | str, serial: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by the zero-padded serial number."""
    digits = pc.utf8_lpad(pa.array(serial).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def timestamps(start: date, seconds: np.ndarray) -> pa.Array:
    """UTC timestamps ``start + seconds``, truncated to whole seconds."""
    origin = np.datetime64(start, "s").astype(np.int64)
    ns = (origin + np.floor(seconds).astype(np.int64)) * 1_000_000_000
    return pa.array(ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))


def year_prefix(start: date, seconds: np.ndarray, middle: str) -> pa.Array:
    """Per-row MRN-style prefix: two-digit year then ``middle`` (e.g. ``25NLI``)."""
    years = (np.datetime64(start, "s") + np.floor(seconds).astype("timedelta64[s]")).astype(
        "datetime64[Y]"
    ).astype(np.int64) + 1970
    first = int(years.min()) if len(years) else start.year
    table = (
        [f"{(first + k) % 100:02d}{middle}" for k in range(int(years.max() - first) + 1)]
        if len(years)
        else []
    )
    return take(table, years - first)
