"""String vocabularies: entity (importer, HS6, route...) -> integer code, -1 when unseen.

Lookups are vectorised with a pandas hash index for batches and a plain dict for a
handful of rows, where the index's per-call overhead would dominate.

A live state adds a few values at a time, so the pandas index is not rebuilt on every
addition: it covers the first values (the *base*), the dict covers all of them, and a
batch lookup sends what the base misses to the dict. The base is rebuilt once the
values added since exceed a quarter of it, so sizes at rebuilds grow geometrically and
the rebuilds cost a constant per added value; a rebuild re-creates the hash table at
once if the old one was built, so a warmed-up server never meets a cold table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SMALL_BATCH = 64
REBUILD_SHARE = 4  # the base index is rebuilt when the values added since pass 1/4 of it


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


class Vocabulary:
    """An append-only ordered set of strings; codes are positions."""

    def __init__(self, values: np.ndarray | list[str] | None = None) -> None:
        self._values: list[str] = []
        self._index = pd.Index([], dtype=object)
        self._dict: dict[str, int] = {}
        self._indexed = False
        if values is not None:
            self.add(np.asarray(values, dtype=object))

    def __len__(self) -> int:
        return len(self._values)

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self._values, dtype=object)

    def add(self, values: np.ndarray) -> None:
        """Append the unseen non-null strings of ``values`` in first-appearance order."""
        if len(values) <= SMALL_BATCH:
            present = [v for v in dict.fromkeys(values) if not _missing(v)]
        else:
            present = pd.unique(pd.Series(values, dtype=object).dropna())
        new = [v for v in present if v not in self._dict]
        for v in new:
            self._dict[v] = len(self._values)
            self._values.append(v)
        recent = len(self._values) - len(self._index)
        if new and recent > len(self._index) // REBUILD_SHARE:
            self._rebuild()

    def _rebuild(self) -> None:
        """A new base index over every value (hash table built at once if it was before)."""
        warm = self._indexed and len(self._index) > 0
        self._index = pd.Index(self._values, dtype=object)
        self._indexed = False
        if warm:
            self._index.get_indexer(pd.Index(self._values[:1], dtype=object))
            self._indexed = True

    @property
    def indexed(self) -> bool:
        """Whether a batch lookup ran since the base index was last rebuilt: pandas builds
        the index's hash table on first use (about 0.1 s per million values), so a server
        runs one before its first request."""
        return self._indexed or not self._values

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Code of each value; -1 for unseen or null."""
        if len(values) <= SMALL_BATCH:
            get = self._dict.get
            return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))
        found = self._index.get_indexer(pd.Index(values, dtype=object)).astype(np.int64)
        self._indexed = True
        if len(self._values) > len(self._index):  # values added since the base was built
            miss = np.flatnonzero(found < 0)
            if len(miss):
                get = self._dict.get
                pick = np.asarray(values, dtype=object)[miss]
                found[miss] = np.fromiter((get(v, -1) for v in pick), np.int64, len(miss))
        return found
