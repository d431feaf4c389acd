"""Feature groups chosen on as-served validation, not fixed by hand.

Party and graph features carry the signal in one administration and noise in another
(where parties rotate, or the history is short), so which groups the model reads is
measured: backward elimination on the trees, dropping at each step the group whose
removal leaves validation precision@5 % and @10 % (as served) at least as high, the
best such first, until every removal costs something. Each group's own effect (the
change when it alone is left out of the full set) is reported too.

The groups are the feature spec's blocks, with the profiles split into party keys
(importer, declarant, seller, carrier and their pairs) and goods / route keys (codes,
origin, office, route, an administration's extra attributes), which behave differently.
The pipeline still computes every column; the model only ignores the dropped ones
(``models.lgbm.mask_columns``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PARTY_KEYS = frozenset(
    {"importer", "declarant", "seller", "carrier", "importer_declarant", "importer_seller"}
)
Score = tuple[float, float]  # validation precision@5 %, @10 %


def model_groups(spec_groups: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The spec's groups, profiles split into ``profiles_party`` and ``profiles_goods``."""
    out: dict[str, tuple[str, ...]] = {}
    for group, names in spec_groups.items():
        if group != "profiles":
            out[group] = tuple(names)
            continue
        party = tuple(n for n in names if n.split("__")[0] in PARTY_KEYS)
        goods = tuple(n for n in names if n.split("__")[0] not in PARTY_KEYS)
        out.update({"profiles_party": party, "profiles_goods": goods})
    return {g: names for g, names in out.items() if names}


def group_of(groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Feature name -> its group."""
    return {name: g for g, names in groups.items() for name in names}


def keep_mask(
    names: list[str], groups: Mapping[str, tuple[str, ...]], dropped: set[str]
) -> np.ndarray:
    """Bool per column: False for the columns of the dropped groups."""
    gone = {n for g in dropped for n in groups[g]}
    return np.array([n not in gone for n in names], dtype=bool)


@dataclass
class GroupSelection:
    """The groups kept and dropped, each group's effect, and the scores on the way."""

    kept: tuple[str, ...]
    dropped: tuple[str, ...]  # in the order they were dropped
    keep: np.ndarray  # bool per feature column
    full: Score  # all groups
    final: Score  # kept groups
    effects: dict[str, Score] = field(default_factory=dict)  # left out alone, minus full

    def metrics(self) -> dict[str, float]:
        """MLflow metrics: each group's effect and the validation scores."""
        out = {
            "valid_groups_full_precision_at_5": self.full[0],
            "valid_groups_full_precision_at_10": self.full[1],
            "valid_groups_kept_precision_at_5": self.final[0],
            "valid_groups_kept_precision_at_10": self.final[1],
            "feature_groups_kept": float(len(self.kept)),
            "feature_columns_used": float(self.keep.sum()),
        }
        for g, (p5, p10) in self.effects.items():
            out[f"group_effect_precision_at_5_{g}"] = p5
            out[f"group_effect_precision_at_10_{g}"] = p10
        return out

    def table(self, groups: Mapping[str, tuple[str, ...]]) -> pd.DataFrame:
        """One row per group: columns, kept, effect at 5 % and 10 % (NaN when not measured)."""
        none = (float("nan"), float("nan"))
        return pd.DataFrame(
            {
                "group": list(groups),
                "columns": [len(cols) for cols in groups.values()],
                "kept": [g in self.kept for g in groups],
                "effect_precision_at_5": [self.effects.get(g, none)[0] for g in groups],
                "effect_precision_at_10": [self.effects.get(g, none)[1] for g in groups],
            }
        )


def select_groups(
    names: list[str],
    groups: Mapping[str, tuple[str, ...]],
    score: Callable[[np.ndarray], Score],
    enabled: bool = True,
) -> GroupSelection:
    """Backward elimination of groups by ``score(keep_mask)`` (precision@5 %, @10 % on
    as-served validation); with ``enabled`` False, every group kept and no effect measured.
    One group always stays."""
    cache: dict[frozenset[str], Score] = {}

    def measured(dropped: set[str]) -> Score:
        key = frozenset(dropped)
        if key not in cache:
            cache[key] = score(keep_mask(names, groups, dropped))
        return cache[key]

    full = measured(set())
    dropped: set[str] = set()
    effects: dict[str, Score] = {}
    steps: list[str] = []  # dropped, in order
    current = full
    while enabled and len(groups) - len(dropped) > 1:
        trials = {g: measured(dropped | {g}) for g in groups if g not in dropped}
        if not steps:
            effects = {g: (s[0] - full[0], s[1] - full[1]) for g, s in trials.items()}
        fine = [g for g, s in trials.items() if s[0] >= current[0] and s[1] >= current[1]]
        if not fine:
            break
        best = max(fine, key=lambda g: (trials[g], g))
        dropped.add(best)
        steps.append(best)
        current = trials[best]
    kept = tuple(g for g in groups if g not in dropped)
    return GroupSelection(
        kept=kept,
        dropped=tuple(steps),
        keep=keep_mask(names, groups, dropped),
        full=full,
        final=current,
        effects=effects,
    )
