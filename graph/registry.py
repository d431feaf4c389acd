"""``PartyRegistry``: what the graph keeps of every registry row and control result.

``ControlEvents`` address declarations by registry row, and an ``update`` may bring a
control result for a row fitted long ago; so the block keeps, per row, its time and
the codes of its parties (six roles), and every control event. That is all the graph
is rebuilt from; nothing here depends on the order codes were handed out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.blocks import ControlEvents
from features.growable import Buffers
from features.history import result_known_at
from features.inputs import Inputs
from features.vocab import Vocabulary
from graph.schema import DECLARATION_ROLES, ENS_ROLES, ROLES


def role_ids(inputs: Inputs, role: str) -> np.ndarray:
    """Party ids of ``role`` for every row (object array, None when missing)."""
    if role in DECLARATION_ROLES:
        return inputs.text[DECLARATION_ROLES[role]]
    if inputs.ens is None:
        return np.full(inputs.n, None, dtype=object)
    return np.where(inputs.ens["present"], inputs.ens[ENS_ROLES[role]], None)


@dataclass
class PartyRegistry:
    """Party vocabulary, per-row party codes and times, and control events."""

    vocab: Vocabulary
    time: np.ndarray  # int64 (rows,)
    parties: np.ndarray  # int32 (rows, len(ROLES)); -1 missing
    control_row: np.ndarray  # int64
    control_time: np.ndarray  # int64, when the result became known
    control_hit: np.ndarray  # float64, 1.0 irregularity
    buffers: Buffers = field(default_factory=Buffers, repr=False, compare=False)

    @classmethod
    def empty(cls) -> PartyRegistry:
        """A registry with no rows."""
        return cls(
            vocab=Vocabulary(),
            time=np.zeros(0, dtype=np.int64),
            parties=np.zeros((0, len(ROLES)), dtype=np.int32),
            control_row=np.zeros(0, dtype=np.int64),
            control_time=np.zeros(0, dtype=np.int64),
            control_hit=np.zeros(0),
        )

    @property
    def n_rows(self) -> int:
        """Registry rows (declarations) held."""
        return len(self.time)

    def append(self, inputs: Inputs, controls: ControlEvents, with_ens: bool) -> None:
        """Add the rows of ``inputs`` (after the existing ones) and the control events."""
        roles = [role_ids(inputs, r) if with_ens or r in DECLARATION_ROLES else None for r in ROLES]
        flat = np.concatenate(
            [np.full(inputs.n, None, dtype=object) if ids is None else ids for ids in roles]
        )
        local, uniques = pd.factorize(flat, use_na_sentinel=True)
        mapping = self.vocab.encode(np.asarray(uniques, dtype=object)).astype(np.int32)
        codes = np.where(local >= 0, mapping[np.maximum(local, 0)] if len(mapping) else -1, -1)
        codes = codes.astype(np.int32).reshape(len(ROLES), inputs.n).T
        grow = self.buffers
        self.time = grow.extend("time", self.time, np.asarray(inputs.time, dtype=np.int64))
        self.parties = grow.extend("parties", self.parties, codes)
        rows = np.asarray(controls.row, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise ValueError(
                f"control events address rows outside the registry (0..{self.n_rows - 1})"
            )
        self.control_row = grow.extend("control_row", self.control_row, rows)
        self.control_time = grow.extend(
            "control_time", self.control_time, np.asarray(controls.time, dtype=np.int64)
        )
        self.control_hit = grow.extend(
            "control_hit", self.control_hit, np.asarray(controls.hit, dtype=np.float64)
        )

    def control_known_at(self, first: int = 0) -> np.ndarray:
        """When each control result (from ``first`` on) is usable: its time, and never
        before its declaration."""
        return result_known_at(self.control_time[first:], self.time[self.control_row[first:]])

    def string_rank(self) -> np.ndarray:
        """Rank of each party code in the sorted order of the id strings (code-order free)."""
        order = np.argsort(self.vocab.values.astype(str), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank
