"""Table-key checks: duplicate keys among otherwise valid rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from canonical.ingest import reasons as r
from canonical.ingest.failures import RejectLog


def reject_duplicates(
    frame: pd.DataFrame, key: tuple[str, ...], log: RejectLog, field: str, column: str
) -> None:
    """Reject the second and later rows whose key repeats that of an earlier valid row.

    The reject value is the canonical key, parts joined by ``/`` for composite keys.
    """
    valid = ~log.rejected
    duplicated = np.zeros(len(frame), dtype=bool)
    duplicated[valid] = frame.loc[valid, list(key)].duplicated(keep="first").to_numpy()
    rows = np.flatnonzero(duplicated)
    if len(rows) == 0:
        return
    parts = frame.iloc[rows][list(key)].astype(str)
    values = parts.agg("/".join, axis=1).tolist() if len(key) > 1 else parts[key[0]].tolist()
    log.add_rows(field, column, rows, values, r.DUPLICATE_ID)
