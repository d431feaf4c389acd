"""Build the declarations table from its source: fields, currency conversion, label, keys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from canonical.ingest.failures import RejectLog
from canonical.ingest.fields import read_extras, read_fields
from canonical.ingest.keys import reject_duplicates
from canonical.ingest.labels import LabelColumns, read_label
from canonical.ingest.mapping import DeclarationsSection, Mapping
from canonical.ingest.sources import SourceTable
from canonical.schema import DECLARATIONS


@dataclass(frozen=True)
class BuiltDeclarations:
    """Accepted declarations, the reject log, and the label of each accepted row (if mapped)."""

    frame: pd.DataFrame
    log: RejectLog
    label: LabelColumns | None


def to_reporting_currency(
    values: pd.Series, currency: pd.Series, rates: dict[str, float], reporting: str
) -> np.ndarray:
    """Amounts in ``currency`` converted to the reporting currency with EUR-per-unit rates."""
    factor = {code: rate / rates[reporting] for code, rate in rates.items()}
    per_row = currency.map(factor).astype("float64").to_numpy(na_value=np.nan)
    return values.to_numpy(dtype=float, na_value=np.nan) * per_row


def build_declarations(
    source: SourceTable, section: DeclarationsSection, mapping: Mapping
) -> BuiltDeclarations:
    """Parse, validate and key-check declarations; only rows without failures are kept."""
    log = RejectLog("declarations", source.num_rows)
    fields = {f.name: f for f in DECLARATIONS.fields}
    columns = read_fields(
        source, fields, section, mapping, log, defaults={"currency": mapping.reporting_currency}
    )
    if "customs_value_rc" not in section.fields:
        columns["customs_value_rc"] = pd.Series(
            to_reporting_currency(
                columns["customs_value"],
                columns["currency"],
                mapping.rates,
                mapping.reporting_currency,
            )
        )
    columns.update(read_extras(source, section, log))
    label = read_label(source.columns, section.label, section, log) if section.label else None
    frame = pd.DataFrame(columns)
    column = section.fields["declaration_id"].column or ""
    reject_duplicates(frame, DECLARATIONS.key, log, "declaration_id", column)
    keep = ~log.rejected
    accepted = frame.loc[keep].reset_index(drop=True)
    if label is not None:
        label = LabelColumns(
            positive=label.positive[keep], revenue=label.revenue[keep].reset_index(drop=True)
        )
    return BuiltDeclarations(frame=accepted, log=log, label=label)
