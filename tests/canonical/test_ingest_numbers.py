"""Numbers are parsed exactly; power-of-ten units are decimal shifts that round-trip."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canonical.ingest import shifted_text
from canonical.ingest.numbers import parse_float, parse_int, power_of_ten

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


def _text(*cells: str | None) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(list(cells), pa.string())])


@settings(max_examples=300, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20))
def test_repr_text_parses_back_bit_for_bit(values):
    parsed, invalid = parse_float(_text(*(repr(v) for v in values)))
    assert not invalid.any()
    assert parsed.tolist() == values


@settings(max_examples=300, deadline=None)
@given(finite, st.sampled_from([3, 2, -3, 6]))
def test_shifted_text_and_decimal_shift_round_trip(value, places):
    text = shifted_text(value, places)
    parsed, _ = parse_float(_text(text), factor=float(f"1e{-places}"))
    assert parsed[0] == value or (value == 0 and parsed[0] == 0)


def test_power_of_ten_factors():
    assert [power_of_ten(f) for f in (0.001, 0.01, 1.0, 1000.0, 0.45359237)] == [-3, -2, 0, 3, None]


def test_decimal_shift_is_exact_where_multiplying_is_not():
    parsed, _ = parse_float(_text("1234.5", "0.9", "12.5e1"), factor=0.001)
    assert parsed.tolist() == [1.2345, 0.0009, 0.125]
    assert 0.9 * 0.001 != 0.0009  # what a naive multiplication would have given


def test_invalid_numbers_are_flagged_and_empty_cells_are_not():
    cells = ["1", "-2.5", ".5", "5.", "1e3", "1,5", "abc", "1e999", "nan", "inf", None, "0x10"]
    parsed, invalid = parse_float(_text(*cells))
    assert invalid.tolist() == [False] * 5 + [True] * 5 + [False, True]
    assert parsed[:5].tolist() == [1.0, -2.5, 0.5, 5.0, 1000.0]
    assert all(math.isnan(v) for v in parsed[5:])


def test_decimal_comma():
    parsed, invalid = parse_float(_text("1,25", "3"), decimal=",")
    assert parsed.tolist() == [1.25, 3.0]
    assert not invalid.any()


def test_integers_accept_integral_decimals_only():
    values, invalid = parse_int(_text("3", "+4", "5.0", "-1", "2.5", "x", None))
    assert values.tolist()[:4] == [3, 4, 5, -1]
    assert values.isna().tolist() == [False] * 4 + [True] * 3
    assert invalid.tolist() == [False] * 4 + [True, True, False]


@pytest.mark.parametrize(("value", "places", "text"), [(1.2345, 3, "1234.5"), (0.125, 2, "12.5")])
def test_shifted_text_examples(value, places, text):
    assert shifted_text(value, places) == text
    assert np.isnan(parse_float(_text(""), factor=1.0)[0][0])
