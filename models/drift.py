"""The bundle's drift reference: what its training data looked like, to compare traffic with.

Saved under ``drift/`` in the bundle at training (numpy and JSON only, so serving reads
it without training's imports):

* per feature, the decile edges and bin shares of the reference rows (PSI bins as in
  training.drift: deciles of the reference, ties merged, missing values in a bin of
  their own, shares floored at 1e-4);
* the same for the score;
* per party and code column (importer, declarant, seller; HS6, origin), the sorted
  64-bit hashes of every value the training data held, to tell the rate of unseen ones.

The reference rows are the validation window as served (the latest traffic training
saw, with features computed the way the service computes them) and its scores by the
registered model; the seen values come from every declaration of the training data.
PSI: under 0.1 stable, 0.1-0.25 moved, over 0.25 a different distribution.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DRIFT_DIR = "drift"
BINS = 10
FLOOR = 1e-4
PARTY_COLUMNS = ("importer_id", "declarant_id", "seller_id")
CODE_COLUMNS = ("hs6", "origin_country")


def bin_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Inner quantile edges of the finite reference values (ties merged)."""
    finite = reference[~np.isnan(reference)]
    if not len(finite):
        return np.zeros(0)
    return np.unique(np.quantile(finite, np.arange(1, bins) / bins))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of values in (-inf, e0], (e0, e1], ..., (e_last, inf), then missing."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="left"), minlength=len(edges) + 1
    ).astype(np.float64)
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """sum (actual - expected) ln(actual / expected), shares floored at ``FLOOR``."""
    expected, actual = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA (whose truth value raises)."""
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, float) and math.isnan(value)


def value_hashes_list(values: Iterable[object]) -> np.ndarray:
    """64-bit BLAKE2b hashes of each non-null value (as a string), in order."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little")
            for v in values
            if not _missing(v)
        ],
        dtype=np.uint64,
    )


def value_hashes(values: Iterable[object]) -> np.ndarray:
    """Sorted unique hashes of the non-null values."""
    return np.unique(value_hashes_list(values))


def hs6(codes: Iterable[object]) -> list[object]:
    """The HS6 of each commodity code (its first six digits; missing stays None)."""
    return [None if _missing(c) else str(c)[:6] for c in codes]


@dataclass(frozen=True)
class DriftReference:
    """Bins of every feature and of the score, and the party/code values seen."""

    names: list[str]
    edges: list[np.ndarray]
    shares: list[np.ndarray]
    score_edges: np.ndarray
    score_shares: np.ndarray
    seen: dict[str, np.ndarray]  # column -> sorted uint64 hashes
    rows: int
    description: str
    used: np.ndarray | None = None  # bool per feature: the model reads it (None: all)

    @property
    def used_mask(self) -> np.ndarray:
        """Which features the model reads (all when the reference does not say)."""
        if self.used is None:
            return np.ones(len(self.names), dtype=bool)
        return np.asarray(self.used, dtype=bool)

    @classmethod
    def fit(
        cls,
        names: list[str],
        x: np.ndarray,
        scores: np.ndarray,
        seen_values: Mapping[str, Iterable[object]],
        description: str = "",
        used: np.ndarray | None = None,
    ) -> DriftReference:
        """The reference of rows ``x`` (columns ``names``) scored ``scores``, with the
        party/code values of the training data."""
        edges = [bin_edges(np.asarray(x[:, j], dtype=np.float64)) for j in range(len(names))]
        shares = [bin_shares(x[:, j], e) for j, e in enumerate(edges)]
        score_edges = bin_edges(np.asarray(scores, dtype=np.float64))
        return cls(
            names=list(names),
            edges=edges,
            shares=shares,
            score_edges=score_edges,
            score_shares=bin_shares(scores, score_edges),
            seen={k: value_hashes(v) for k, v in seen_values.items()},
            rows=len(x),
            description=description,
            used=None if used is None else np.asarray(used, dtype=bool),
        )

    def feature_psi(self, x: np.ndarray) -> np.ndarray:
        """PSI of every feature of ``x`` (same columns as ``names``) against the reference."""
        return np.array(
            [
                psi_from_shares(self.shares[j], bin_shares(x[:, j], self.edges[j]))
                for j in range(len(self.names))
            ]
        )

    def score_psi(self, scores: np.ndarray) -> float:
        return psi_from_shares(self.score_shares, bin_shares(scores, self.score_edges))

    def unseen_rates(self, values: Mapping[str, Iterable[object]]) -> dict[str, float]:
        """Share of the given (non-null) values of each column absent from the training
        data; NaN for a column without reference or without values."""
        out: dict[str, float] = {}
        for column, given in values.items():
            hashes = value_hashes_list(given)
            seen = self.seen.get(column)
            if seen is None or not len(hashes):
                out[column] = float("nan")
                continue
            pos = np.searchsorted(seen, hashes)
            found = (pos < len(seen)) & (seen[np.minimum(pos, len(seen) - 1)] == hashes)
            out[column] = float(1.0 - found.mean()) if len(seen) else 1.0
        return out

    def save(self, bundle: Path) -> Path:
        """Write ``drift/reference.json`` and ``drift/seen.npz`` under ``bundle``."""
        folder = bundle / DRIFT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        body = {
            "names": self.names,
            "edges": [e.tolist() for e in self.edges],
            "shares": [s.tolist() for s in self.shares],
            "score_edges": self.score_edges.tolist(),
            "score_shares": self.score_shares.tolist(),
            "rows": self.rows,
            "description": self.description,
            "used": self.used_mask.tolist(),
        }
        (folder / "reference.json").write_text(json.dumps(body))
        np.savez(folder / "seen.npz", **self.seen)
        return folder

    @classmethod
    def load(cls, bundle: Path) -> DriftReference | None:
        """The bundle's reference; None for a bundle trained before it existed."""
        folder = bundle / DRIFT_DIR
        if not (folder / "reference.json").is_file():
            return None
        body = json.loads((folder / "reference.json").read_text())
        with np.load(folder / "seen.npz") as seen:
            hashes = {k: seen[k] for k in seen.files}
        return cls(
            names=body["names"],
            edges=[np.asarray(e, dtype=np.float64) for e in body["edges"]],
            shares=[np.asarray(s, dtype=np.float64) for s in body["shares"]],
            score_edges=np.asarray(body["score_edges"], dtype=np.float64),
            score_shares=np.asarray(body["score_shares"], dtype=np.float64),
            seen=hashes,
            rows=int(body["rows"]),
            description=str(body.get("description", "")),
            used=np.asarray(body["used"], dtype=bool) if "used" in body else None,
        )


def aligned(reference: DriftReference, names: list[str], x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` (named ``names``) in the reference's order; NaN where absent."""
    where = {n: j for j, n in enumerate(names)}
    out = np.full((len(x), len(reference.names)), np.nan)
    for j, name in enumerate(reference.names):
        if name in where:
            out[:, j] = x[:, where[name]]
    return out


def reference_values(records: Iterable[Mapping[str, object]]) -> dict[str, list[object]]:
    """The party and code columns of declaration records (HS6 from ``hs_code``)."""
    rows = list(records)
    out: dict[str, list[object]] = {c: [r.get(c) for r in rows] for c in PARTY_COLUMNS}
    out["hs6"] = hs6(r.get("hs_code") for r in rows)
    out["origin_country"] = [r.get("origin_country") for r in rows]
    return out
