"""The smoke test a bundle carries: a few canonical declarations (ENS embedded, as the API
receives them) and the scores the exported scorer gives them, so serving can refuse a
bundle that does not reproduce its own training-time scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.inputs import inputs_from_records
from models.bundle import SCORER_CPU
from models.encoding import CategoryEncoder
from models.runtime import OnnxScorer


def _plain(value: Any) -> Any:
    """JSON-ready value: timestamps as ISO strings, missing as None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def smoke_records(frames: dict[str, pd.DataFrame], rows: np.ndarray) -> list[dict[str, Any]]:
    """Canonical declaration dicts for ``rows``, with their ENS versions and items embedded."""
    d = frames["declarations"].iloc[rows]
    filings, items = frames.get("ens_filings"), frames.get("ens_items")
    out = []
    for raw in d.to_dict("records"):
        rec = {k: _plain(v) for k, v in raw.items()}
        ens_id = rec.get("ens_id")
        if filings is not None and ens_id is not None:
            versions = filings[filings.filing_id == ens_id].to_dict("records")
            goods = [] if items is None else items[items.filing_id == ens_id].to_dict("records")
            rec["ens"] = {
                "versions": [{k: _plain(v) for k, v in r.items()} for r in versions],
                "items": [{k: _plain(v) for k, v in r.items()} for r in goods],
            }
        out.append(rec)
    return out


def smoke_scores(
    bundle: Path, pipeline: FeaturePipeline, encoder: CategoryEncoder, records: list[dict]
) -> list[float]:
    """Scores of ``records`` by the bundle's CPU scorer, through the API's input path."""
    inputs = inputs_from_records(records, with_ens=pipeline.with_ens())
    out = OnnxScorer(bundle / SCORER_CPU, device="cpu").run(
        pipeline.transform_inputs(inputs), encoder.transform(inputs)
    )
    return [float(s) for s in out["score"]]
