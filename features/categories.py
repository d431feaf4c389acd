"""Raw codes of an administration's extra attributes with few distinct values.

National codes mapped as ``extra_cat__NAME`` (procedure type, a licence category...)
become profile keys (their hit rates); those with at most ``max_codes`` distinct values
at fit also reach the models as a numeric code, ``extra_cat__NAME__code``: the position
of the value in the sorted fitted vocabulary, -1 for a missing or unseen value. The
trees split on it directly (a numeric code survives ONNX export, where pandas categories
would not); the vocabulary is fitted once and never grows in ``update`` (folding events
is not fitting), so a code means the same value for the life of the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.blocks import ControlEvents, EnsEvents, State
from features.inputs import Inputs
from features.vocab import Vocabulary

MAX_CODES = 64


def _distinct(values: np.ndarray) -> list[object]:
    return list(pd.unique(pd.Series(values, dtype=object).dropna()))


def small_categoricals(inputs: Inputs, max_codes: int = MAX_CODES) -> list[str]:
    """The extra categorical columns with at most ``max_codes`` distinct non-null values."""
    return [
        name
        for name in inputs.extra_categoricals
        if 0 < len(_distinct(inputs.text[name])) <= max_codes
    ]


class CategoryCodeBlock:
    """Numeric codes of the extra categorical attributes with few distinct values."""

    name = "categories"

    def __init__(self, max_codes: int = MAX_CODES) -> None:
        self.max_codes = max_codes

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        self.vocab_ = {
            name: Vocabulary(np.array(sorted(_distinct(inputs.text[name]), key=str), dtype=object))
            for name in small_categoricals(inputs, self.max_codes)
        }

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Nothing to fold in: the vocabularies are fitted, not grown."""

    def feature_names(self) -> list[str]:
        return [f"{name}__code" for name in self.vocab_]

    def nullable(self) -> set[str]:
        return set()

    def dropped(self) -> dict[str, str]:
        return {}

    def transform(self, inputs: Inputs) -> np.ndarray:
        out = np.empty((inputs.n, len(self.vocab_)), dtype=np.float32)
        for j, (name, vocab) in enumerate(self.vocab_.items()):
            values = inputs.text.get(name, np.full(inputs.n, None, dtype=object))
            out[:, j] = vocab.codes(values)
        return out

    def get_state(self) -> State:
        return {
            "max_codes": self.max_codes,
            "columns": list(self.vocab_),
            "vocab": {name: v.values for name, v in self.vocab_.items()},
        }

    def set_state(self, state: State) -> None:
        self.max_codes = int(state["max_codes"])
        self.vocab_ = {name: Vocabulary(state["vocab"][name]) for name in state["columns"]}
