"""Numeric codes for the network's embeddings: hashed buckets, a reserved index for unseen.

Each high-cardinality column (importer, declarant, seller, HS6, origin) is hashed
with a stable hash into ``buckets - 1`` buckets shifted by one; index 0 is reserved
for values not seen in training (and missing ones). The seen set is kept as sorted
hashes, so the encoder needs no strings at serving time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from features.inputs import Inputs
from features.keys import key_values

EMBEDDED = ("importer", "declarant", "seller", "hs6", "origin")


def stable_hash(values: np.ndarray) -> np.ndarray:
    """64-bit blake2b of each string (independent of PYTHONHASHSEED); -1 for missing."""
    out = np.full(len(values), -1, dtype=np.int64)
    for i, v in enumerate(values):
        if isinstance(v, str):
            digest = hashlib.blake2b(v.encode(), digest_size=8).digest()
            out[i] = int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF
    return out


@dataclass
class CategoryEncoder:
    """Hashed bucket index per embedded column; 0 for unseen or missing values."""

    buckets: dict[str, int]
    seen: dict[str, np.ndarray]  # sorted hashes of training values, per column

    @classmethod
    def fit(cls, inputs: Inputs, buckets: dict[str, int] | None = None) -> CategoryEncoder:
        sizes = buckets or {
            "importer": 50_000,
            "declarant": 5_000,
            "seller": 50_000,
            "hs6": 2_000,
            "origin": 300,
        }
        seen = {}
        for col in EMBEDDED:
            hashes = stable_hash(key_values(inputs, col))
            seen[col] = np.unique(hashes[hashes >= 0])
        return cls(buckets=dict(sizes), seen=seen)

    def transform(self, inputs: Inputs) -> np.ndarray:
        """int64 matrix (n, len(EMBEDDED))."""
        out = np.zeros((inputs.n, len(EMBEDDED)), dtype=np.int64)
        for j, col in enumerate(EMBEDDED):
            hashes = stable_hash(key_values(inputs, col))
            seen = self.seen[col]
            pos = np.searchsorted(seen, hashes)
            known = (
                (hashes >= 0) & (pos < len(seen)) & (seen[np.minimum(pos, len(seen) - 1)] == hashes)
            )
            out[:, j] = np.where(known, 1 + hashes % (self.buckets[col] - 1), 0)
        return out

    def cardinalities(self) -> list[int]:
        return [self.buckets[c] for c in EMBEDDED]

    def get_state(self) -> dict[str, object]:
        return {"buckets": dict(self.buckets), "seen": dict(self.seen)}

    @classmethod
    def from_state(cls, state: dict) -> CategoryEncoder:
        return cls(
            buckets={k: int(v) for k, v in state["buckets"].items()},
            seen={k: np.asarray(v, dtype=np.int64) for k, v in state["seen"].items()},
        )
