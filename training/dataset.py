"""From canonical tables to labelled training data: point-in-time features for every
declaration, labels for the controlled ones, split by time.

A control result counts as a training label only if it was known before the end of
its window (post-release audits arrive months later); the test window takes every
result, as the eventual truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from canonical.schema import RISK_TYPES
from features.timebase import to_seconds
from training.split import TimeSplit

HIT_OUTCOMES = ("irregularity", "seizure")


@dataclass
class Labelled:
    """Rows of the declarations table that have a control result, with their labels."""

    rows: np.ndarray  # positions in the declarations table
    y: np.ndarray
    revenue: np.ndarray
    risk: np.ndarray  # index into RISK_TYPES, -1 when none
    propensity: np.ndarray
    basis: np.ndarray
    known_at: np.ndarray  # seconds, when the result was recorded
    split: np.ndarray  # train / valid / test / unused

    def mask(self, name: str) -> np.ndarray:
        return self.split == name


def label_declarations(
    declarations: pd.DataFrame, controls: pd.DataFrame, split: TimeSplit
) -> Labelled:
    """One label per controlled declaration (any hit wins; revenue summed)."""
    c = controls.dropna(subset=["declaration_id"]).copy()
    c["hit"] = c["outcome"].isin(HIT_OUTCOMES)
    c["known_at"] = to_seconds(c["controlled_at"])
    c = c.sort_values("known_at")
    risk = c["risk_type"].where(c["hit"])
    c["risk_idx"] = risk.map({r: i for i, r in enumerate(RISK_TYPES)}).fillna(-1).astype(int)
    agg = c.groupby("declaration_id", sort=False).agg(
        hit=("hit", "max"),
        revenue=("revenue_recovered", "sum"),
        risk=("risk_idx", "max"),
        propensity=("propensity", "first"),
        basis=("selection_basis", "first"),
        known_at=("known_at", "max"),
    )
    position = pd.Index(declarations["declaration_id"].astype(object)).get_indexer(
        agg.index.astype(object)
    )
    keep = position >= 0
    agg, position = agg[keep], position[keep]
    lodged = to_seconds(declarations["lodged_at"])[position]
    window = split.assign(lodged)
    known = agg["known_at"].to_numpy()
    usable = np.where(
        window == "train",
        known < split.valid_start,
        np.where(window == "valid", known < split.test_start, True),
    )
    order = np.argsort(position)
    propensity = agg["propensity"].astype(float).fillna(1.0).to_numpy()
    return Labelled(
        rows=position[order],
        y=agg["hit"].to_numpy(dtype=np.float64)[order],
        revenue=agg["revenue"].fillna(0.0).to_numpy(dtype=np.float64)[order],
        risk=agg["risk"].to_numpy(dtype=np.int64)[order],
        propensity=propensity[order],
        basis=agg["basis"].astype(object).to_numpy()[order],
        known_at=known[order],
        split=np.where(usable, window, "unused")[order],
    )
