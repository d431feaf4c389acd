"""Exact numeric parsing of text cells, with unit changes done as decimal shifts.

Text is parsed once with a correctly rounded parser (Arrow's), never through a lossy
intermediate. A power-of-ten factor (grams to kilograms, percent to fraction) moves the
decimal exponent in the text before parsing, so ``"1234.5"`` grams gives exactly the
double nearest 1.2345, the same as parsing ``"1.2345"``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_MANTISSA = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_NUMBER = rf"^{_MANTISSA}(?:[eE][+-]?[0-9]{{1,4}})?$"
_PARTS = rf"^(?P<mantissa>{_MANTISSA})(?:[eE](?P<exponent>[+-]?[0-9]{{1,4}}))?$"
_INTEGER = r"^[+-]?[0-9]{1,18}(?:\.0*)?$"


def power_of_ten(factor: float) -> int | None:
    """``k`` when ``factor`` is exactly the double nearest ``10**k``, else None."""
    if factor <= 0 or not math.isfinite(factor):
        return None
    k = round(math.log10(factor))
    return k if float(f"1e{k}") == factor else None


def _with_decimal_point(text: pa.ChunkedArray, decimal: str) -> pa.ChunkedArray:
    """Text with a decimal comma turned into a point."""
    return pc.replace_substring(text, ",", ".") if decimal == "," else text


def _shift(text: pa.ChunkedArray, places: int) -> pa.ChunkedArray:
    """Number text multiplied by ``10**places`` by rewriting its exponent."""
    parts = pc.extract_regex(text, _PARTS)
    mantissa = pc.struct_field(parts, "mantissa")
    exponent = pc.struct_field(parts, "exponent")
    exponent = pc.if_else(pc.equal(exponent, ""), "0", exponent)
    exponent = pc.add(pc.cast(exponent, pa.int64()), places).cast(pa.string())
    return pc.binary_join_element_wise(mantissa, exponent, "e")


def parse_float(
    text: pa.ChunkedArray, *, decimal: str = ".", factor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Float values (NaN where empty or invalid) and the mask of non-empty, non-numeric cells."""
    text = _with_decimal_point(text, decimal)
    ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    clean = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    places = power_of_ten(factor)
    if places:
        clean = _shift(clean, places)
    values = np.array(pc.cast(clean, pa.float64()).to_numpy(), dtype=np.float64)
    if places is None:
        values = values * factor
    present = pc.is_valid(text).to_numpy()
    finite = np.isfinite(values)
    invalid = present & ~finite
    values[~finite] = np.nan
    return values, invalid


def parse_int(text: pa.ChunkedArray, *, decimal: str = ".") -> tuple[pd.Series, np.ndarray]:
    """Nullable integers (``3`` or ``3.0``) and the mask of non-empty, non-integer cells."""
    text = _with_decimal_point(text, decimal)
    ok = pc.fill_null(pc.match_substring_regex(text, _INTEGER), False)
    clean = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    clean = pc.replace_substring_regex(clean, r"\.0*$", "")
    clean = pc.replace_substring_regex(clean, r"^\+", "")
    values = pd.Series(pc.cast(clean, pa.int64()).to_pandas(), dtype=pd.Int64Dtype())
    invalid = pc.is_valid(text).to_numpy() & ~ok.to_numpy(zero_copy_only=False)
    return values, invalid


def shifted_text(value: float, places: int) -> str:
    """Exact decimal text of ``value * 10**places`` (for exporting data that ingest reads back).

    The inverse of a power-of-ten ``unit``/``scale``: ``shifted_text(1.2345, 3) == "1234.5"``,
    and ingesting that text with unit g gives 1.2345 back bit for bit.
    """
    if not math.isfinite(value):
        return ""
    return format(Decimal(repr(float(value))).scaleb(places).normalize(), "f")
