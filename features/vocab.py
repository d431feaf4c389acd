"""String vocabularies: entity (importer, HS6, route...) -> integer code, -1 when unseen.

Lookups are vectorised with a pandas hash index for batches and a plain dict for a
handful of rows, where the index's per-call overhead would dominate.

A live state adds a few values at a time, so the pandas index is not rebuilt on every
addition: it covers the first values (the *base*), the dict covers all of them, and a
batch lookup sends what the base misses to the dict. The base is rebuilt once the
values added since outnumber it, so sizes at rebuilds at least double and rebuilds
cost a constant per added value. A vocabulary whose hash table is built (a server
warmed it up) rebuilds at once, table included, when values are added, so a request
never meets a cold table; one never looked up in bulk (the declaration registry, which
folds look up in the dict) is rebuilt only if a bulk lookup comes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SMALL_BATCH = 64
# Folds look up to this many values in the dict: no index rebuilt, no uniqueness check
# (a pandas lookup on a grown registry paid ~0.25 s for is_unique alone).
FOLD_BATCH = 65_536


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
        if new and self._indexed and self._stale():
            self._rebuild()

    def encode(self, values: np.ndarray) -> np.ndarray:
        """``add(values)`` then ``codes(values)`` in one lookup pass (folds meet mostly
        known values)."""
        values = np.asarray(values, dtype=object)
        codes = self.codes(values, dict_up_to=FOLD_BATCH)
        miss = np.flatnonzero(codes < 0)
        if len(miss):
            codes[miss] = [self._append(v) for v in values[miss]]
            if self._indexed and self._stale():
                self._rebuild()
        return codes

    def _append(self, value: object) -> int:
        """Code of ``value``, appended if unseen; -1 if null."""
        code = self._dict.get(value)  # type: ignore[call-overload]
        if code is not None:
            return code
        if _missing(value):
            return -1
        code = self._dict[value] = len(self._values)  # type: ignore[index]
        self._values.append(value)  # type: ignore[arg-type]
        return code

    def compact(self) -> None:
        """Rebuild the base index over every value now (a quiet moment's work), so that
        batch lookups no longer send the recent values to the dict."""
        if len(self._values) > len(self._index):
            self._rebuild()

    def _stale(self) -> bool:
        """Whether the values added since the base index was built outnumber it."""
        return len(self._values) - len(self._index) > len(self._index)

    def _rebuild(self) -> None:
        """A new base index over every value (hash table built at once if it was before)."""
        warm = self._indexed
        self._index = pd.Index(self._values, dtype=object)
        self._indexed = False
        if warm:
            self._index.get_indexer(pd.Index(self._values[:1], dtype=object))
            self._indexed = True

    @property
    def indexed(self) -> bool:
        """Whether a batch lookup would find its hash table built: pandas builds an index's
        table on first use (about 0.1 s per million values), so a server runs one before
        its first request, and additions keep a built table current (see above)."""
        return (self._indexed and not self._stale()) or not self._values

    def codes(self, values: np.ndarray, dict_up_to: int = SMALL_BATCH) -> np.ndarray:
        """Code of each value; -1 for unseen or null (batches up to ``dict_up_to`` values
        are looked up in the dict)."""
        if len(values) <= dict_up_to:
            get = self._dict.get
            return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))
        if self._stale():
            self._rebuild()
        found = self._index.get_indexer(pd.Index(values, dtype=object)).astype(np.int64)
        self._indexed = True
        if len(self._values) > len(self._index):  # values added since the base was built
            miss = np.flatnonzero(found < 0)
            if len(miss):
                get = self._dict.get
                pick = np.asarray(values, dtype=object)[miss]
                found[miss] = np.fromiter((get(v, -1) for v in pick), np.int64, len(miss))
        return found
