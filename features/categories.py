"""Extra categorical attributes with few values, as indicator columns for the models.

A national code mapped as ``extra.categorical`` (a customs procedure, a channel, a
preference regime) is profiled like any key (its hit rate, counts), but its raw value
can matter in itself and interact with others, which a hit rate hides. An attribute with
at most ``max_values`` distinct values in the fitted history gets one 0/1 column per
value seen at least ``min_rows`` times (``extra_cat__channel__is_red``); rarer and unseen
values are all zeros, missing ones too. Indicators rather than LightGBM categorical
codes: the ONNX tree export takes numeric splits only, and the network reads them as
they are. The value lists are learnt at ``fit`` and kept through updates, like the
model's vocabularies; the columns carry no history, so they cannot leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from features.blocks import ControlEvents, EnsEvents, State
from features.inputs import Inputs


@dataclass(frozen=True)
class CategoryConfig:
    """Which attributes get indicators, and for which values."""

    max_values: int = 16  # attributes with more distinct values stay profiles only
    min_rows: int = 20  # a value needs this many fitted rows to get a column


def column_name(attribute: str, value: str, taken: set[str]) -> str:
    """``<attribute>__is_<value>``, the value reduced to [A-Za-z0-9_] (numbered on a clash)."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", value)[:40] or "_"
    name, k = f"{attribute}__is_{safe}", 2
    while name in taken:
        name, k = f"{attribute}__is_{safe}_{k}", k + 1
    return name


class CategoryBlock:
    """0/1 indicators of the frequent values of low-cardinality extra attributes."""

    name = "categories"

    def __init__(self, config: CategoryConfig | None = None) -> None:
        self.config = config or CategoryConfig()

    def fit(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        cfg = self.config
        self.values_: dict[str, list[str]] = {}
        self.dropped_: dict[str, str] = {}
        for attribute in inputs.extra_categoricals:
            column = inputs.text[attribute]
            present = np.array([isinstance(v, str) for v in column], dtype=bool)
            values, counts = np.unique(column[present].astype(str), return_counts=True)
            if len(values) > cfg.max_values:
                self.dropped_[f"categories:{attribute}"] = (
                    f"{len(values)} distinct values (> {cfg.max_values}): profiled only"
                )
                continue
            kept = [str(v) for v, c in zip(values, counts, strict=True) if c >= cfg.min_rows]
            if kept:
                self.values_[attribute] = kept
        self._name_columns()

    def _name_columns(self) -> None:
        self.names_: list[str] = []
        taken: set[str] = set()
        for attribute, values in self.values_.items():
            for value in values:
                name = column_name(attribute, value, taken)
                taken.add(name)
                self.names_.append(name)

    def update(self, inputs: Inputs, controls: ControlEvents, ens: EnsEvents | None = None) -> None:
        """Nothing to fold in: the value lists stay those of the fit."""

    def feature_names(self) -> list[str]:
        return list(self.names_)

    def nullable(self) -> set[str]:
        return set()

    def dropped(self) -> dict[str, str]:
        return dict(self.dropped_)

    def transform(self, inputs: Inputs) -> np.ndarray:
        out = np.zeros((inputs.n, len(self.names_)), dtype=np.float32)
        j = 0
        for attribute, values in self.values_.items():
            column = inputs.text.get(attribute)
            for value in values:
                if column is not None:
                    out[:, j] = column == value
                j += 1
        return out

    def get_state(self) -> State:
        return {
            "config": {"max_values": self.config.max_values, "min_rows": self.config.min_rows},
            "values": {k: list(v) for k, v in self.values_.items()},
            "dropped": dict(self.dropped_),
        }

    def set_state(self, state: State) -> None:
        self.config = CategoryConfig(**state["config"])
        self.values_ = {k: [str(x) for x in v] for k, v in state["values"].items()}
        self.dropped_ = dict(state["dropped"])
        self._name_columns()
