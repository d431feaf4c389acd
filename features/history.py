"""Facts of a history in block form: control results and ENS filings as events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.blocks import ControlEvents, EnsEvents
from features.timebase import to_seconds

HIT_OUTCOMES = ("irregularity", "seizure")


def control_events(controls: pd.DataFrame, registry: pd.Index) -> tuple[ControlEvents, int]:
    """Controls attributed to registry rows by declaration_id; also how many were unmatched."""
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
    return events, int((~known).sum())


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
    key = [
        f"{a}|{b}|{c}|{d}"
        for a, b, c, d in zip(
            head["consignor_id"].astype(object).where(head["consignor_id"].notna(), None),
            head["consignee_id"].astype(object).where(head["consignee_id"].notna(), None),
            arrival,
            head["itinerary"].astype(object).where(head["itinerary"].notna(), None),
            strict=True,
        )
    ]
    return EnsEvents(
        filing_id=head.index.to_numpy(dtype=object),
        content_key=np.array(key, dtype=object),
        first_filed=to_seconds(first.reindex(head.index)),
    )
