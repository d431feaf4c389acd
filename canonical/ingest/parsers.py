"""One vectorised parser per field kind: normalised text in, canonical values and failures out.

Each parser returns the column in its canonical pandas dtype (null where the cell was
empty or failed) and an array of failure codes (see ``reasons``), one per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from canonical.codes import COUNTRIES
from canonical.ingest import reasons as r
from canonical.ingest.numbers import parse_float, parse_int
from canonical.ingest.text import NULL_TEXT, to_string_series
from canonical.ingest.timestamps import parse_timestamps
from canonical.schema import Field, Kind

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")
ITINERARY_SEPARATORS = r"[\s,;|>\-]+"
HS_DOTTED = r"^[0-9]{4}\.[0-9]{2}(\.?[0-9]{2}){0,2}$"  # 6109.10, 6109.10.00, 8471.30.0100
_COUNTRY_SET = pa.array(sorted(COUNTRIES), pa.string())


@dataclass(frozen=True)
class ParseOptions:
    """Per-field options the parsers need (from the mapping's field spec and section)."""

    fmt: str | None = None
    unit: str | None = None
    factor: float = 1.0
    zfill: int | None = None
    timezone: str = "UTC"
    decimal: str = "."
    currencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Parsed:
    """A parsed column and its per-row failure codes (0 = fine)."""

    values: pd.Series
    codes: np.ndarray


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Boolean Arrow array as a numpy mask, nulls as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _codes(n: int, *failures: tuple[np.ndarray, str]) -> np.ndarray:
    """Failure codes from (mask, reason) pairs, earlier pairs winning."""
    codes = r.no_failures(n)
    for mask, reason in failures:
        r.mark(codes, mask, reason)
    return codes


def _blank_failed(text: pa.ChunkedArray, failed: np.ndarray) -> pa.ChunkedArray:
    """Text with failed cells set to null."""
    if not failed.any():
        return text
    return pc.if_else(pa.array(failed), NULL_TEXT, text)


def _text(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Ids, free text and administrative codes: kept as given (optionally zero-padded)."""
    if opts.zfill:
        text = pc.utf8_lpad(text, opts.zfill, padding="0")
    return Parsed(to_string_series(text), r.no_failures(len(text)))


def _hs(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """HS/CN codes: spaces and group dots dropped, zero-padded if asked, digits in range.

    A dot is accepted only between digit groups after the 4-digit heading (``6109.10.00``,
    ``8471.30.0100``); any other dot, such as the ``.0`` tail of a code exported as a float
    (``610910.0``), is malformed rather than silently read as another code. Chapter ``00``
    (e.g. a short code over-padded by ``zfill``) does not exist and is malformed too.
    """
    text = pc.replace_substring_regex(text, r"\s", "")
    dotted = _mask(pc.match_substring(text, "."))
    bad_dots = dotted & ~_mask(pc.match_substring_regex(text, HS_DOTTED))
    text = pc.replace_substring(text, ".", "")
    if opts.zfill:
        text = pc.utf8_lpad(text, opts.zfill, padding="0")
    low, high = fld.hs_digits
    ok = pc.match_substring_regex(text, rf"^[0-9]{{{low},{high}}}$")
    chapter_00 = _mask(pc.starts_with(text, "00"))
    bad = pc.is_valid(text).to_numpy() & (~_mask(ok) | bad_dots | chapter_00)
    return Parsed(
        to_string_series(_blank_failed(text, bad)), _codes(len(text), (bad, r.MALFORMED_HS_CODE))
    )


def _in_set(text: pa.ChunkedArray, allowed: pa.Array, reason: str) -> Parsed:
    """Cells that must belong to a closed set."""
    bad = pc.is_valid(text).to_numpy() & ~_mask(pc.is_in(text, value_set=allowed))
    return Parsed(to_string_series(_blank_failed(text, bad)), _codes(len(text), (bad, reason)))


def _country(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """ISO 3166-1 alpha-2 countries, uppercased."""
    return _in_set(pc.utf8_upper(text), _COUNTRY_SET, r.UNKNOWN_COUNTRY)


def _currency(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Currencies, uppercased; only those with a known rate are accepted."""
    return _in_set(pc.utf8_upper(text), pa.array(opts.currencies, pa.string()), r.UNKNOWN_CURRENCY)


def _enum(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Closed vocabularies: lowercased, spaces and hyphens as underscores."""
    text = pc.replace_substring_regex(pc.utf8_lower(text), r"[\s\-]+", "_")
    return _in_set(text, pa.array(fld.allowed, pa.string()), r.UNKNOWN_CODE)


def _itinerary(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Country routes with any separator, stored as ``CN-SG-NL``; every country must be known."""
    text = pc.utf8_upper(text)
    text = pc.replace_substring_regex(text, rf"^{ITINERARY_SEPARATORS}|{ITINERARY_SEPARATORS}$", "")
    text = pc.if_else(pc.equal(text, ""), NULL_TEXT, text)
    parts = pc.split_pattern_regex(text, ITINERARY_SEPARATORS)
    flat = pc.list_flatten(parts)
    parents = pc.list_parent_indices(parts).to_numpy()
    unknown = ~_mask(pc.is_in(flat, value_set=_COUNTRY_SET))
    bad = np.zeros(len(text), dtype=bool)
    bad[parents[unknown]] = True
    joined = pc.binary_join(parts, "-")
    return Parsed(
        to_string_series(_blank_failed(joined, bad)), _codes(len(text), (bad, r.UNKNOWN_COUNTRY))
    )


def _timestamp(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Timestamps to UTC."""
    values, bad = parse_timestamps(
        text, fmt=opts.fmt, unit=opts.unit, timezone=opts.timezone, decimal=opts.decimal
    )
    return Parsed(values, _codes(len(text), (bad, r.BAD_DATE)))


def _amount(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Non-negative floats (amounts and rates), scaled to canonical units."""
    values, wrong = parse_float(text, decimal=opts.decimal, factor=opts.factor)
    negative = values < 0
    values[negative] = np.nan
    return Parsed(
        pd.Series(values), _codes(len(text), (wrong, r.WRONG_TYPE), (negative, r.NEGATIVE_VALUE))
    )


def _probability(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Probabilities in (0, 1]."""
    values, wrong = parse_float(text, decimal=opts.decimal, factor=opts.factor)
    outside = ~np.isnan(values) & ((values <= 0) | (values > 1))
    values[outside] = np.nan
    return Parsed(
        pd.Series(values), _codes(len(text), (wrong, r.WRONG_TYPE), (outside, r.OUT_OF_RANGE))
    )


def _count(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Non-negative integers."""
    values, wrong = parse_int(text, decimal=opts.decimal)
    negative = (values < 0).fillna(False).to_numpy(dtype=bool)
    values[negative] = pd.NA
    return Parsed(values, _codes(len(text), (wrong, r.WRONG_TYPE), (negative, r.NEGATIVE_VALUE)))


def _bool(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Booleans from true/false, t/f, 1/0, yes/no, y/n (any case)."""
    lower = pc.utf8_lower(text)
    is_true = _mask(pc.is_in(lower, value_set=pa.array(TRUE_WORDS)))
    is_false = _mask(pc.is_in(lower, value_set=pa.array(FALSE_WORDS)))
    present = pc.is_valid(text).to_numpy()
    bad = present & ~is_true & ~is_false
    values = pd.array(is_true, dtype=pd.BooleanDtype())
    values[~present | bad] = pd.NA
    return Parsed(pd.Series(values), _codes(len(text), (bad, r.WRONG_TYPE)))


PARSERS: dict[Kind, Callable[[pa.ChunkedArray, Field, ParseOptions], Parsed]] = {
    Kind.ID: _text,
    Kind.TEXT: _text,
    Kind.CODE: _text,
    Kind.ENUM: _enum,
    Kind.COUNTRY: _country,
    Kind.CURRENCY: _currency,
    Kind.HS: _hs,
    Kind.ITINERARY: _itinerary,
    Kind.TIMESTAMP: _timestamp,
    Kind.AMOUNT: _amount,
    Kind.RATE: _amount,
    Kind.PROBABILITY: _probability,
    Kind.COUNT: _count,
    Kind.BOOL: _bool,
}


def parse(text: pa.ChunkedArray, fld: Field, opts: ParseOptions) -> Parsed:
    """Parse normalised text as field ``fld``; empty required cells fail ``missing_required``."""
    parsed = PARSERS[fld.kind](text, fld, opts)
    if fld.required:
        missing = pc.is_null(text).to_numpy(zero_copy_only=False)
        parsed.codes[missing] = r.CODE[r.MISSING_REQUIRED]
    return parsed


def parse_signed_float(text: pa.ChunkedArray, opts: ParseOptions) -> Parsed:
    """Any finite float (numeric extra attributes may be negative)."""
    values, wrong = parse_float(text, decimal=opts.decimal, factor=opts.factor)
    return Parsed(pd.Series(values), _codes(len(text), (wrong, r.WRONG_TYPE)))
