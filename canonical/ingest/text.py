"""Cell text normalisation shared by every field: trim, value map, null tokens, default."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL_TEXT = pa.scalar(None, pa.string())
STRING_DTYPE = pd.StringDtype("pyarrow")


def constant(value: str, n: int) -> pa.ChunkedArray:
    """A text column of ``n`` copies of ``value`` (a mapped constant)."""
    return pa.chunked_array([pa.repeat(pa.scalar(value, pa.string()), n)], type=pa.string())


def apply_value_map(text: pa.ChunkedArray, values: dict[str, str | None]) -> pa.ChunkedArray:
    """Replace cells equal to a key of ``values`` by its value (null when the value is null)."""
    keys = pa.array(list(values), pa.string())
    replacements = pa.array(list(values.values()), pa.string())
    index = pc.index_in(text, value_set=keys)
    return pc.if_else(pc.is_null(index), text, pc.take(replacements, index))


def normalise(
    raw: pa.ChunkedArray,
    *,
    values: dict[str, str | None] | None = None,
    null_values: list[str] | None = None,
    default: str | None = None,
) -> pa.ChunkedArray:
    """Trimmed text, value map applied, empty cells and null tokens as null, default filled."""
    text = pc.utf8_trim_whitespace(raw)
    if values:
        text = apply_value_map(text, values)
    tokens = pa.array(["", *(null_values or [])], pa.string())
    text = pc.if_else(pc.is_in(text, value_set=tokens), NULL_TEXT, text)
    if default is not None:
        text = pc.fill_null(text, default)
    return text


def to_string_series(text: pa.ChunkedArray) -> pd.Series:
    """A text column as a canonical pandas string series."""
    return pd.Series(pd.arrays.ArrowStringArray(text.cast(pa.large_string())), dtype=STRING_DTYPE)
