"""A world replayed as a live feed: batches of declarations with their ENS, control results
as they become known (some before their declaration), and the refit that must agree."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.blocks import FeatureBlock


def _plain(value: Any) -> Any:
    """A frame cell as a client sends it: None for missing, Python scalars."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def records_of(d: pd.DataFrame, f: pd.DataFrame, i: pd.DataFrame) -> list[dict[str, Any]]:
    """Declarations as API dicts, every version and item of their ENS embedded."""
    linked = set(d.ens_id.dropna())

    def by_filing(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
        rows = frame[frame.filing_id.isin(linked)]
        return {
            k: [{c: _plain(v) for c, v in r.items()} for r in g.to_dict("records")]
            for k, g in rows.groupby("filing_id")
        }

    versions, goods = by_filing(f), by_filing(i)
    out = []
    for raw in d.to_dict("records"):
        rec = {k: _plain(v) for k, v in raw.items()}
        filing = rec.get("ens_id")
        if filing in versions:
            rec["ens"] = {"versions": versions[filing], "items": goods.get(filing, [])}
        out.append(rec)
    return out


@dataclass
class Batch:
    """What one fold receives."""

    declarations: pd.DataFrame
    controls: pd.DataFrame
    filings: pd.DataFrame  # the batch's linked filings and those filed in its window
    items: pd.DataFrame

    def linked(self) -> Batch:
        """The batch with only the filings its declarations link to (what records embed)."""
        ids = self.declarations.ens_id.dropna()
        return Batch(
            self.declarations,
            self.controls,
            self.filings[self.filings.filing_id.isin(ids)],
            self.items[self.items.filing_id.isin(ids)],
        )

    def records(self) -> list[dict[str, Any]]:
        """The declarations as API dicts, with the batch's versions of their filings."""
        return records_of(self.declarations, self.filings, self.items)


@dataclass
class Feed:
    """A world cut in two: the history to fit, then batches in lodging order."""

    d: pd.DataFrame
    c: pd.DataFrame
    f: pd.DataFrame
    i: pd.DataFrame
    cut: pd.Timestamp
    passed: list[Batch] = field(default_factory=list)

    @classmethod
    def of(
        cls, d: pd.DataFrame, c: pd.DataFrame, f: pd.DataFrame, i: pd.DataFrame, share: float
    ) -> Feed:
        d = d.sort_values("lodged_at", kind="stable", ignore_index=True)
        return cls(d, c, f, i, d.lodged_at.iloc[int(share * len(d))])

    def history(self) -> Batch:
        d, c, f = self.d, self.c, self.f
        old_f = f[f.filed_at < self.cut]
        return Batch(d[d.lodged_at < self.cut], c[c.controlled_at < self.cut], old_f, self.i)

    def fit(self, blocks: list[FeatureBlock] | None = None) -> FeaturePipeline:
        h = self.history()
        return FeaturePipeline(blocks).fit(h.declarations, h.controls, h.filings, h.items)

    def batches(self, sizes: list[int], early_share: float = 0.0, seed: int = 0) -> list[Batch]:
        """Consecutive batches after the cut; ``early_share`` of the results of later
        batches' declarations come with the batch before theirs (feeds out of order)."""
        rng = np.random.default_rng(seed)
        d, c, f, i = self.d, self.c, self.f, self.i
        start = int((d.lodged_at < self.cut).sum())
        known, sent = self.cut, np.zeros(len(c), dtype=bool)
        out = []
        for size in sizes:
            rows = d.iloc[start : start + size]
            start += len(rows)
            until = rows.lodged_at.max()
            due = (c.controlled_at >= known).to_numpy() & (c.controlled_at < until).to_numpy()
            ahead = c.declaration_id.isin(d.declaration_id.iloc[start : start + 3 * size])
            early = ahead.to_numpy() & (rng.random(len(c)) < early_share)
            pick = (due | early) & ~sent
            sent |= pick
            filed = (f.filed_at >= known) & (f.filed_at < until)
            filings = f[filed | f.filing_id.isin(rows.ens_id.dropna())]
            items = i[i.filing_id.isin(filings.filing_id)]
            out.append(Batch(rows, c[pick], filings, items))
            known = until
        return out

    def refit(
        self, batches: list[Batch], blocks: list[FeatureBlock] | None = None
    ) -> FeaturePipeline:
        """A fit on the history followed by the batches, as one history."""
        parts = [self.history(), *batches]
        d = pd.concat([b.declarations for b in parts], ignore_index=True)
        c = pd.concat([b.controls for b in parts], ignore_index=True)
        f = pd.concat([b.filings for b in parts], ignore_index=True)
        return FeaturePipeline(blocks).fit(
            d, c, f.drop_duplicates(["filing_id", "version"]), self.i
        )

    def probe(self, rows: int = 400) -> pd.DataFrame:
        """Rows from the whole world, and the same rows dated after everything."""
        sample = self.d.iloc[np.linspace(0, len(self.d) - 1, rows).astype(int)]
        later = sample.copy()
        later["declaration_id"] = later.declaration_id + "-LATER"
        later["lodged_at"] = self.d.lodged_at.max() + pd.Timedelta(days=3)
        return pd.concat([sample, later], ignore_index=True)
