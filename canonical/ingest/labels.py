"""Control results derived from a label column, for histories where every row was controlled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from canonical.ingest import reasons as r
from canonical.ingest.failures import RejectLog
from canonical.ingest.mapping import LabelSpec, Section
from canonical.ingest.parsers import ParseOptions, parse
from canonical.ingest.text import normalise
from canonical.schema import CONTROLS

LABEL_PREFIX = "label:"


@dataclass(frozen=True)
class LabelColumns:
    """Per source row: whether the label is positive, and the revenue recovered."""

    positive: np.ndarray
    revenue: pd.Series


def read_label(
    columns: dict[str, pa.ChunkedArray], spec: LabelSpec, section: Section, log: RejectLog
) -> LabelColumns:
    """Parse the label (and revenue) columns; an empty or unrecognised label rejects the row."""
    raw = columns[spec.column]
    text = pc.utf8_lower(normalise(raw, null_values=section.null_values))
    positive = np.asarray(
        pc.fill_null(pc.is_in(text, value_set=pa.array(spec.positive, pa.string())), False),
        dtype=bool,
    )
    negative = np.asarray(
        pc.fill_null(pc.is_in(text, value_set=pa.array(spec.negatives, pa.string())), False),
        dtype=bool,
    )
    missing = pc.is_null(text).to_numpy(zero_copy_only=False)
    codes = r.no_failures(len(text))
    codes[missing] = r.CODE[r.MISSING_REQUIRED]
    r.mark(codes, ~positive & ~negative, r.UNKNOWN_CODE)
    log.add("outcome", spec.column, raw, codes)
    if spec.revenue is None:
        revenue = pd.Series(np.zeros(len(text)))
    else:
        raw_revenue = columns[spec.revenue]
        text_revenue = normalise(raw_revenue, null_values=section.null_values, default="0")
        parsed = parse(
            text_revenue, CONTROLS["revenue_recovered"], ParseOptions(decimal=section.decimal)
        )
        log.add("revenue_recovered", spec.revenue, raw_revenue, parsed.codes)
        revenue = parsed.values
        # Revenue is recovered only from an irregularity: with a negative label one of the two
        # columns is wrong, and guessing which would corrupt the training labels.
        contradicts = negative & (revenue.to_numpy(dtype=float, na_value=np.nan) > 0)
        log.add_mask(
            "revenue_recovered", spec.revenue, raw_revenue, contradicts, r.INCONSISTENT_LABEL
        )
    return LabelColumns(positive=positive, revenue=revenue)


def derive_controls(
    declarations: pd.DataFrame, label: LabelColumns, known_after: pd.Timedelta | None = None
) -> pd.DataFrame:
    """One control per accepted declaration (rows of ``label`` aligned with ``declarations``).

    ``controlled_at`` is ``lodged_at`` plus ``known_after``: when the result is taken to be
    known, so that history features do not see a label before it would have arrived.
    """
    delay = known_after if known_after is not None else pd.Timedelta(0)
    n = len(declarations)
    ids = declarations["declaration_id"].reset_index(drop=True)
    positive = pd.Series(label.positive)
    return pd.DataFrame(
        {
            "control_id": (LABEL_PREFIX + ids).astype(ids.dtype),
            "declaration_id": ids,
            "controlled_at": declarations["lodged_at"].reset_index(drop=True) + delay,
            "control_type": pd.Series(["unknown"] * n, dtype=ids.dtype),
            "selection_basis": pd.Series(["unknown"] * n, dtype=ids.dtype),
            "propensity": np.ones(n),
            "outcome": pd.Series(
                np.where(label.positive, "irregularity", "no_irregularity"), dtype=ids.dtype
            ),
            "risk_type": pd.Series(positive.map({True: "other", False: None}), dtype=ids.dtype),
            "revenue_recovered": label.revenue.reset_index(drop=True).to_numpy(dtype=float),
        }
    )
