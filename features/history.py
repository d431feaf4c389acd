"""Facts of a history in block form: control results and ENS filings as events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.blocks import ControlEvents, EnsEvents
from features.inputs import ens_content_keys, text_column
from features.timebase import to_seconds
from features.vocab import FOLD_BATCH, Vocabulary

HIT_OUTCOMES = ("irregularity", "seizure")


def control_columns(controls: pd.DataFrame) -> dict[str, np.ndarray]:
    """The control-result columns as numpy arrays (``controlled_at`` in seconds)."""
    n = len(controls)
    return {
        "declaration_id": text_column(controls["declaration_id"], n),
        "controlled_at": to_seconds(controls["controlled_at"]),
        "outcome": text_column(controls["outcome"], n),
        "revenue_recovered": pd.to_numeric(controls["revenue_recovered"]).to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
    }


def control_events(
    controls: pd.DataFrame | dict[str, np.ndarray], registry: pd.Index | Vocabulary
) -> tuple[ControlEvents, np.ndarray]:
    """Controls attributed to registry rows by declaration_id, and the mask of those whose
    declaration is not in the registry (declaration ids in row order, as an index or as
    the pipeline's vocabulary). ``controls``: a frame or its ``control_columns``."""
    cols = control_columns(controls) if isinstance(controls, pd.DataFrame) else controls
    ids = cols["declaration_id"]
    if isinstance(registry, Vocabulary):
        rows = registry.codes(ids, dict_up_to=FOLD_BATCH)
    else:
        rows = registry.get_indexer(pd.Index(ids, dtype=object))
    known = rows >= 0
    hit = np.fromiter((o in HIT_OUTCOMES for o in cols["outcome"]), dtype=bool, count=len(ids))
    revenue = np.nan_to_num(cols["revenue_recovered"], nan=0.0)
    events = ControlEvents(
        row=rows[known].astype(np.int64),
        time=cols["controlled_at"][known],
        hit=hit[known].astype(np.float64),
        revenue=revenue[known],
    )
    return events, ~known


def result_known_at(controlled_at: np.ndarray, lodged_at: np.ndarray) -> np.ndarray:
    """When a control result may be used (seconds): its time, never before its declaration
    was lodged. A result dated earlier (a clerical or clock error) would otherwise be seen
    by its own declaration."""
    return np.maximum(np.asarray(controlled_at, np.int64), np.asarray(lodged_at, np.int64))


def ens_events(filings: pd.DataFrame) -> EnsEvents:
    """One event per filing: the content key of its first version, and when that was filed.

    First-version content is what customs knew from the start; later amendments are not
    allowed to change what earlier rows saw.
    """
    n = len(filings)
    arrival = to_seconds(filings["expected_arrival"]).astype(np.float64)
    arrival[filings["expected_arrival"].isna().to_numpy()] = np.nan
    return ens_events_of(
        filing_id=text_column(filings["filing_id"], n),
        version=filings["version"].to_numpy(np.int64),
        filed_at=to_seconds(filings["filed_at"]),
        consignor=text_column(filings["consignor_id"], n),
        consignee=text_column(filings["consignee_id"], n),
        arrival=arrival,
        itinerary=text_column(filings["itinerary"], n),
    )


def ens_events_of(
    filing_id: np.ndarray,
    version: np.ndarray,
    filed_at: np.ndarray,
    consignor: np.ndarray,
    consignee: np.ndarray,
    arrival: np.ndarray,
    itinerary: np.ndarray,
) -> EnsEvents:
    """``ens_events`` of filing versions as numpy columns (the API folds embedded ENS
    this way, without a DataFrame): times in seconds, arrival NaN when missing."""
    filing_id = np.asarray(filing_id, dtype=object)
    codes, _ = pd.factorize(pd.Series(filing_id, dtype=object))
    order = np.lexsort((np.asarray(version, np.int64), codes))
    order = order[codes[order] >= 0]  # a version without a filing id belongs to no filing
    if len(order) == 0:
        empty = np.zeros(0, dtype=object)
        return EnsEvents(empty, empty.copy(), np.zeros(0, dtype=np.int64))
    head = np.r_[True, codes[order][1:] != codes[order][:-1]]
    starts = np.flatnonzero(head)
    first = order[starts]  # the lowest version of each filing
    return EnsEvents(
        filing_id=filing_id[first],
        content_key=ens_content_keys(
            consignor[first], consignee[first], arrival[first], itinerary[first]
        ),
        first_filed=np.minimum.reduceat(np.asarray(filed_at, np.int64)[order], starts),
    )
