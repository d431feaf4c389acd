"""The reject log of one source file: failed fields per row, row verdicts, rejects.csv rows.

A row may fail several fields (one reject line each); it is counted once, under its
first reason in the fixed order of ``reasons.REASONS``, so read = accepted + rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from canonical.ingest import reasons as r

REJECT_COLUMNS = ("table", "source_row", "field", "column", "value", "reason")
_REASON_NAMES = np.array(r.REASONS, dtype=object)


@dataclass(frozen=True)
class _Block:
    """Failures of one field: row positions, raw cell values and codes."""

    field: str
    column: str
    rows: np.ndarray
    values: list[str | None]
    codes: np.ndarray


class RejectLog:
    """Collects field failures of one source table and decides which rows are rejected."""

    def __init__(self, table: str, num_rows: int) -> None:
        """Empty log for ``num_rows`` source rows of ``table``."""
        self.table = table
        self.num_rows = num_rows
        self._first = r.no_failures(num_rows)
        self._blocks: list[_Block] = []

    def add(
        self, field: str, column: str, raw: pa.ChunkedArray | str | None, codes: np.ndarray
    ) -> None:
        """Record the failing rows of ``codes`` (0 = fine) for one field."""
        rows = np.flatnonzero(codes)
        if len(rows) == 0:
            return
        if raw is None or isinstance(raw, str):
            values: list[str | None] = [raw] * len(rows)
        else:
            values = raw.take(pa.array(rows)).to_pylist()
        self._absorb_block(_Block(field, column, rows, values, codes[rows]))

    def _absorb_block(self, block: _Block) -> None:
        """Keep a block and lower each of its rows' first failure code where it comes earlier."""
        self._blocks.append(block)
        first = self._first[block.rows]
        self._first[block.rows] = np.where(
            (first == r.OK) | (block.codes < first), block.codes, first
        )

    def add_mask(
        self,
        field: str,
        column: str,
        raw: pa.ChunkedArray | str | None,
        mask: np.ndarray,
        reason: str,
    ) -> None:
        """Record ``reason`` for the rows in ``mask``."""
        codes = r.no_failures(self.num_rows)
        codes[mask] = r.CODE[reason]
        self.add(field, column, raw, codes)

    def absorb(self, other: RejectLog) -> None:
        """Take over the failures recorded in ``other`` (same rows)."""
        for block in other._blocks:
            self._absorb_block(block)

    @property
    def rejected(self) -> np.ndarray:
        """Mask of rows with at least one failure."""
        return self._first != r.OK

    def add_rows(
        self, field: str, column: str, rows: np.ndarray, values: list[str | None], reason: str
    ) -> None:
        """Record ``reason`` for row positions ``rows``, with the given cell values."""
        block = _Block(
            field, column, rows, values, np.full(len(rows), r.CODE[reason], r.CODE_DTYPE)
        )
        self._absorb_block(block)

    def rejected_by_reason(self) -> dict[str, int]:
        """Rejected rows counted once, under their first reason (reasons with zero rows omitted)."""
        counts = np.bincount(self._first, minlength=len(r.REASONS) + 1)
        return {
            reason: int(counts[r.CODE[reason]]) for reason in r.REASONS if counts[r.CODE[reason]]
        }

    @property
    def field_failures(self) -> int:
        """Number of reject lines (failed fields)."""
        return sum(len(b.rows) for b in self._blocks)

    def frame(self) -> pd.DataFrame:
        """The reject lines, ordered by source row, then in the order they were found."""
        if not self._blocks:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
        parts = [
            pd.DataFrame(
                {
                    "table": self.table,
                    "source_row": b.rows + 1,
                    "field": b.field,
                    "column": b.column,
                    "value": b.values,
                    "reason": _REASON_NAMES[b.codes.astype(np.intp) - 1],
                }
            )
            for b in self._blocks
        ]
        frame = pd.concat(parts, ignore_index=True)
        return frame.sort_values("source_row", kind="stable").reset_index(drop=True)
