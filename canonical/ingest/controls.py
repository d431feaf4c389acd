"""Build the controls table from its source: fields, one-of references, known declarations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from canonical.ingest import reasons as r
from canonical.ingest.failures import RejectLog
from canonical.ingest.fields import raw_column, read_extras, read_fields
from canonical.ingest.keys import reject_duplicates
from canonical.ingest.mapping import ControlsSection, Mapping
from canonical.ingest.sources import SourceTable
from canonical.schema import CONTROLS


@dataclass(frozen=True)
class BuiltControls:
    """Accepted controls and the reject log."""

    frame: pd.DataFrame
    log: RejectLog


def _check_one_of(
    columns: dict[str, pd.Series], source: SourceTable, section: ControlsSection, log: RejectLog
) -> None:
    """Reject rows where every field of a ``require_one_of`` group is empty."""
    for group in CONTROLS.require_one_of:
        mapped = [name for name in group if name in section.fields]
        empty = np.ones(source.num_rows, dtype=bool)
        for name in mapped:
            empty &= columns[name].isna().to_numpy()
        spec = section.fields[mapped[0]]
        log.add_mask(
            mapped[0], spec.column or "", raw_column(source, spec), empty, r.MISSING_REQUIRED
        )


def build_controls(
    source: SourceTable,
    section: ControlsSection,
    mapping: Mapping,
    declaration_ids: pd.Series | None = None,
) -> BuiltControls:
    """Parse and validate controls; with ``declaration_ids``, unknown declarations are rejected."""
    log = RejectLog("controls", source.num_rows)
    fields = {f.name: f for f in CONTROLS.fields}
    columns = read_fields(source, fields, section, mapping, log)
    columns.update(read_extras(source, section, log))
    _check_one_of(columns, source, section, log)
    if declaration_ids is not None and "declaration_id" in section.fields:
        ids = columns["declaration_id"]
        unknown = (ids.notna() & ~ids.isin(declaration_ids)).to_numpy(dtype=bool)
        spec = section.fields["declaration_id"]
        log.add_mask(
            "declaration_id",
            spec.column or "",
            raw_column(source, spec),
            unknown,
            r.UNKNOWN_REFERENCE,
        )
    frame = pd.DataFrame(columns)
    column = section.fields["control_id"].column or ""
    reject_duplicates(frame, CONTROLS.key, log, "control_id", column)
    return BuiltControls(frame=frame.loc[~log.rejected].reset_index(drop=True), log=log)
