"""Rejection reasons, in the fixed order that decides a rejected row's first reason."""

from __future__ import annotations

import numpy as np

MISSING_REQUIRED = "missing_required"
WRONG_TYPE = "wrong_type"
BAD_DATE = "bad_date"
NEGATIVE_VALUE = "negative_value"
MALFORMED_HS_CODE = "malformed_hs_code"
UNKNOWN_COUNTRY = "unknown_country"
UNKNOWN_CODE = "unknown_code"
UNKNOWN_CURRENCY = "unknown_currency"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_ID = "duplicate_id"
UNKNOWN_REFERENCE = "unknown_reference"
INCONSISTENT_FILING = "inconsistent_filing"
INCONSISTENT_LABEL = "inconsistent_label"

REASONS: tuple[str, ...] = (
    MISSING_REQUIRED,
    WRONG_TYPE,
    BAD_DATE,
    NEGATIVE_VALUE,
    MALFORMED_HS_CODE,
    UNKNOWN_COUNTRY,
    UNKNOWN_CODE,
    UNKNOWN_CURRENCY,
    OUT_OF_RANGE,
    DUPLICATE_ID,
    UNKNOWN_REFERENCE,
    INCONSISTENT_FILING,
    INCONSISTENT_LABEL,
)

# Failure codes are small integers: 0 means "no failure", i + 1 means REASONS[i], so the
# smallest non-zero code of a row is its first reason in the fixed order.
OK = 0
CODE: dict[str, int] = {reason: i + 1 for i, reason in enumerate(REASONS)}
CODE_DTYPE = np.int8


def no_failures(n: int) -> np.ndarray:
    """Failure-code array of ``n`` rows, all passing."""
    return np.zeros(n, dtype=CODE_DTYPE)


def mark(codes: np.ndarray, mask: np.ndarray, reason: str) -> np.ndarray:
    """Set ``reason`` on rows in ``mask`` that have no failure yet (in place; returned)."""
    codes[mask & (codes == OK)] = CODE[reason]
    return codes


def reason_of(code: int) -> str:
    """Reason string of a non-zero failure code."""
    return REASONS[code - 1]
