"""Facts of a history in block form: control results and ENS filings as events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.blocks import ControlEvents, EnsEvents
from features.inputs import ens_content_keys
from features.timebase import to_seconds

HIT_OUTCOMES = ("irregularity", "seizure")


def control_events(controls: pd.DataFrame, registry: pd.Index) -> tuple[ControlEvents, np.ndarray]:
    """Controls attributed to registry rows by declaration_id, and the mask of those whose
    declaration is not in the registry."""
    rows = registry.get_indexer(pd.Index(controls["declaration_id"].astype(object)))
    known = rows >= 0
    hit = controls["outcome"].isin(HIT_OUTCOMES).to_numpy(dtype=np.float64)
    revenue = controls["revenue_recovered"].fillna(0.0).to_numpy(dtype=np.float64)
    events = ControlEvents(
        row=rows[known].astype(np.int64),
        time=to_seconds(controls["controlled_at"])[known],
        hit=hit[known],
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
    f = filings.sort_values(["filing_id", "version"])
    first = f.groupby("filing_id", sort=False)["filed_at"].min()
    head = f.drop_duplicates("filing_id", keep="first").set_index("filing_id")
    arrival = to_seconds(head["expected_arrival"]).astype(np.float64)
    arrival[head["expected_arrival"].isna().to_numpy()] = np.nan
    given = head.notna()
    key = ens_content_keys(
        head["consignor_id"].astype(object).where(given["consignor_id"], None).to_numpy(),
        head["consignee_id"].astype(object).where(given["consignee_id"], None).to_numpy(),
        arrival,
        head["itinerary"].astype(object).where(given["itinerary"], None).to_numpy(),
    )
    return EnsEvents(
        filing_id=head.index.to_numpy(dtype=object),
        content_key=key,
        first_filed=to_seconds(first.reindex(head.index)),
    )
