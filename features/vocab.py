"""String vocabularies: entity (importer, HS6, route...) -> integer code, -1 when unseen.

Lookups are vectorised with a pandas hash index for batches and a plain dict for a
handful of rows, where the index's per-call overhead would dominate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SMALL_BATCH = 64


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
        present = pd.unique(pd.Series(values, dtype=object).dropna())
        new = [v for v in present if v not in self._dict]
        for v in new:
            self._dict[v] = len(self._values)
            self._values.append(v)
        if new:
            self._index = pd.Index(self._values, dtype=object)
            self._indexed = False

    @property
    def indexed(self) -> bool:
        """Whether a batch lookup ran since the last addition: pandas builds the index's
        hash table on first use (about 0.1 s per million values), so a server runs one
        before its first request."""
        return self._indexed or not self._values

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Code of each value; -1 for unseen or null."""
        if len(values) <= SMALL_BATCH:
            get = self._dict.get
            return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))
        found = self._index.get_indexer(pd.Index(values, dtype=object)).astype(np.int64)
        self._indexed = True
        return found
