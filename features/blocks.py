"""The contract between the feature pipeline and its blocks, and the facts they learn from.

A block turns ``Inputs`` into a float32 matrix, each row as of its own timestamp: it
may only use facts (declarations, control results, ENS filings) from strictly before
that time. ``fit`` learns from a history, ``update`` folds in new facts, ``transform``
reads the fitted state. Blocks live in ``features`` (profiles, valuation, route) and in
``graph`` (party network); the pipeline only knows this protocol, and two optional
methods: ``refresh()`` does work a block's ``update`` deferred (stale snapshots, index
merges), and ``wanted_filings(filing_id, filed_at)`` says which ENS versions passed to
an update the block has not folded yet (so the pipeline reads only those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from features.inputs import Inputs


@dataclass(frozen=True)
class ControlEvents:
    """Control results, attributed to declarations by registry row.

    ``row`` indexes the pipeline's declaration registry: in ``fit`` the rows of the
    fitted inputs; in ``update`` the old rows first, then the new inputs' rows.
    ``time`` is when the result became known (controlled_at), in seconds.
    """

    row: np.ndarray
    time: np.ndarray
    hit: np.ndarray  # 1.0 irregularity or seizure, else 0.0
    revenue: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


@dataclass(frozen=True)
class EnsEvents:
    """ENS filings as seen by customs: id, content key and when first filed (seconds)."""

    filing_id: np.ndarray
    content_key: np.ndarray
    first_filed: np.ndarray

    def __len__(self) -> int:
        return len(self.filing_id)


State = dict[str, Any]


@runtime_checkable
class FeatureBlock(Protocol):
    """A group of features with its own fitted state."""

    name: str

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None) -> None:
        """Learn the state from a history (inputs are the registry's first rows)."""

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None) -> None:
        """Fold new declarations (appended to the registry), controls and filings in."""

    def transform(self, inputs: Inputs) -> np.ndarray:
        """Features of each row as of its own time, shape (n, len(feature_names()))."""

    def feature_names(self) -> list[str]:
        """Ordered names of the block's features."""

    def nullable(self) -> set[str]:
        """Features that may be NaN (absent input, e.g. no supplementary units)."""

    def dropped(self) -> dict[str, str]:
        """Sub-groups left out for lack of input, with the reason."""

    def get_state(self) -> State:
        """Arrays and plain values that rebuild the block (no pickles)."""

    def set_state(self, state: State) -> None:
        """Restore the block from ``get_state``'s output."""
