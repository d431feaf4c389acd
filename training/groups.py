"""Feature groups chosen on as-served validation, not fixed by hand.

Party and graph features carry the signal in one administration and noise in another
(where parties rotate, or the history is short), so which groups the model reads is
measured: backward elimination on the trees, dropping at each step the group whose
removal raises validation precision@5 % and @10 % (as served) beyond noise, the best
such first, until no removal does. Beyond noise: neither figure lower, their sum higher,
and higher on at least ``confidence`` of paired bootstrap resamples of the validation
rows (the same resamples for every candidate). A tie keeps the group: on a validation
window with a few dozen hits, precision@5 % moves by one hit at a time, and a rule that
dropped on ties dropped groups at random (seen: the same run kept 4 or 5 of 6 groups by
the seed, and lost half its test precision@5 % on a 200-a-day world). Each group's own
effect (the change when it alone is left out of the full set) is reported too.

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

from models.metrics import precision_at

PARTY_KEYS = frozenset(
    {"importer", "declarant", "seller", "carrier", "importer_declarant", "importer_seller"}
)
Score = tuple[float, float]  # validation precision@5 %, @10 %
CONFIDENCE = 0.9  # share of resamples on which a removal must score higher


@dataclass(frozen=True)
class Measured:
    """A candidate's validation score and the same on the paired bootstrap resamples
    (rows x 2; none: the score is exact, as in a table)."""

    score: Score
    resampled: np.ndarray | None = None


def bootstrap_rows(n: int, resamples: int = 200, seed: int = 0) -> np.ndarray:
    """Row indices of ``resamples`` bootstrap resamples of ``n`` rows (one per row), shared
    by every candidate so that differences are paired."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def measure(scores: np.ndarray, y: np.ndarray, resamples: np.ndarray) -> Measured:
    """Precision@5 % and @10 % of ``scores`` on the rows and on each resample."""
    at = np.array(
        [(precision_at(scores[r], y[r], 5), precision_at(scores[r], y[r], 10)) for r in resamples]
    )
    return Measured((precision_at(scores, y, 5), precision_at(scores, y, 10)), at.reshape(-1, 2))


def _as_measured(value: Measured | Score) -> Measured:
    return value if isinstance(value, Measured) else Measured(tuple(value))  # type: ignore[arg-type]


def beyond_noise(candidate: Measured, current: Measured, confidence: float) -> bool:
    """Whether ``candidate`` scores higher than ``current``: neither figure lower, the sum
    higher, and (with resamples) the sum higher on ``confidence`` of the resamples."""
    (c5, c10), (r5, r10) = candidate.score, current.score
    if c5 < r5 or c10 < r10 or c5 + c10 <= r5 + r10:
        return False
    if candidate.resampled is None or current.resampled is None:
        return True
    wins = candidate.resampled.sum(axis=1) > current.resampled.sum(axis=1)
    return bool(wins.mean() >= confidence)


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
    score: Callable[[np.ndarray], Measured | Score],
    enabled: bool = True,
    confidence: float = CONFIDENCE,
) -> GroupSelection:
    """Backward elimination of groups by ``score(keep_mask)`` (precision@5 %, @10 % on
    as-served validation, with resamples or exact); with ``enabled`` False, every group
    kept and no effect measured. One group always stays."""
    cache: dict[frozenset[str], Measured] = {}

    def measured(dropped: set[str]) -> Measured:
        key = frozenset(dropped)
        if key not in cache:
            cache[key] = _as_measured(score(keep_mask(names, groups, dropped)))
        return cache[key]

    full = measured(set())
    dropped: set[str] = set()
    effects: dict[str, Score] = {}
    steps: list[str] = []  # dropped, in order
    current = full
    while enabled and len(groups) - len(dropped) > 1:
        trials = {g: measured(dropped | {g}) for g in groups if g not in dropped}
        if not steps:
            effects = {
                g: (m.score[0] - full.score[0], m.score[1] - full.score[1])
                for g, m in trials.items()
            }
        fine = [g for g, m in trials.items() if beyond_noise(m, current, confidence)]
        if not fine:
            break
        best = max(fine, key=lambda g: (trials[g].score, g))
        dropped.add(best)
        steps.append(best)
        current = trials[best]
    kept = tuple(g for g in groups if g not in dropped)
    return GroupSelection(
        kept=kept,
        dropped=tuple(steps),
        keep=keep_mask(names, groups, dropped),
        full=full.score,
        final=current.score,
        effects=effects,
    )
