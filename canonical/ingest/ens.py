"""Split a flattened ENS file (one row per goods item) into ens_filings and ens_items.

Filing-level columns repeat on every item row. A filing version is kept once, from its
rows whose filing-level fields are valid; if those rows disagree on any filing-level
value, all of the filing version's rows are rejected as ``inconsistent_filing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from canonical.ingest import reasons as r
from canonical.ingest.failures import RejectLog
from canonical.ingest.fields import raw_column, read_extras, read_fields
from canonical.ingest.keys import reject_duplicates
from canonical.ingest.mapping import EnsSection, FieldSpec, Mapping
from canonical.ingest.sources import SourceTable
from canonical.schema import ENS_FILINGS, ENS_ITEMS

FILING_FIELDS = {f.name: f for f in ENS_FILINGS.fields}
ITEM_FIELDS = {f.name: f for f in ENS_ITEMS.fields if f.name not in ENS_FILINGS.key}
FILING_KEY = list(ENS_FILINGS.key)


@dataclass(frozen=True)
class BuiltEns:
    """Accepted filings and items, and the reject log of the flattened source rows."""

    filings: pd.DataFrame
    items: pd.DataFrame
    log: RejectLog


def _group_varies(values: pd.DataFrame, keys: list[pd.Series]) -> np.ndarray:
    """Per row: whether ``values`` differ anywhere within the row's group."""
    hashed = pd.util.hash_pandas_object(values, index=False)
    grouped = hashed.groupby(keys, sort=False)
    return (grouped.transform("min") != grouped.transform("max")).to_numpy()


def _reject_inconsistent(
    frame: pd.DataFrame,
    filing_columns: list[str],
    candidates: np.ndarray,
    source: SourceTable,
    section: EnsSection,
    log: RejectLog,
) -> np.ndarray:
    """Reject every row of filing versions whose valid rows disagree; return those rows' mask."""
    rows = frame.loc[candidates]
    keys = [rows[k] for k in FILING_KEY]
    varies = _group_varies(rows[filing_columns], keys)
    inconsistent = np.zeros(len(frame), dtype=bool)
    if not varies.any():
        return inconsistent
    bad_rows = rows.loc[varies]
    bad_keys = [bad_rows[k] for k in FILING_KEY]
    for column in filing_columns:
        column_varies = _group_varies(bad_rows[[column]], bad_keys)
        if not column_varies.any():
            continue
        mask = np.zeros(len(frame), dtype=bool)
        mask[bad_rows.index[column_varies]] = True
        spec = _spec_of(section, column)
        log.add_mask(
            column, spec.column or "", raw_column(source, spec), mask, r.INCONSISTENT_FILING
        )
    inconsistent[bad_rows.index] = True
    return inconsistent


def _spec_of(section: EnsSection, column: str) -> FieldSpec:
    """The spec feeding a canonical column: a mapped field or an extra attribute."""
    if column in section.fields:
        return section.fields[column]
    prefix, name = column.split("__", 1)
    specs = section.extra.numeric if prefix == "extra_num" else section.extra.categorical
    return specs[name]


def _item_numbers(frame: pd.DataFrame) -> pd.Series:
    """1-based position of each row within its filing version, in file order."""
    order = frame.groupby(FILING_KEY, sort=False, dropna=False).cumcount() + 1
    return order.astype(pd.Int64Dtype())


def build_ens(source: SourceTable, section: EnsSection, mapping: Mapping) -> BuiltEns:
    """Parse and validate the flattened ENS rows, then split them into filings and items."""
    log = RejectLog("ens", source.num_rows)
    filing_log = RejectLog("ens", source.num_rows)
    columns = read_fields(source, FILING_FIELDS, section, mapping, filing_log)
    extras = read_extras(source, section, filing_log)
    columns.update(extras)
    filing_valid = ~filing_log.rejected
    log.absorb(filing_log)
    columns.update(read_fields(source, ITEM_FIELDS, section, mapping, log))
    frame = pd.DataFrame(columns)
    if "item_no" not in section.fields:
        frame["item_no"] = _item_numbers(frame)
    filing_columns = [
        c for c in [*FILING_FIELDS, *extras] if c in frame.columns and c not in FILING_KEY
    ]
    inconsistent = _reject_inconsistent(frame, filing_columns, filing_valid, source, section, log)
    kept = filing_valid & ~inconsistent
    filings = frame.loc[kept, [*FILING_KEY, *filing_columns]].drop_duplicates(FILING_KEY)
    item_spec = section.fields.get("item_no")
    column = (item_spec.column or "") if item_spec else ""
    reject_duplicates(frame, ENS_ITEMS.key, log, "item_no", column)
    item_columns = [c for c in ENS_ITEMS.names if c in frame.columns]
    items = frame.loc[~log.rejected, item_columns]
    return BuiltEns(
        filings=filings.reset_index(drop=True), items=items.reset_index(drop=True), log=log
    )
