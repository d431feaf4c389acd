"""Reason texts for officers: the top reason codes of each row, with the numbers behind them.

``explain_rows(scorer, batch, k)`` groups each row's TreeSHAP contributions by reason
code exactly as ``models.reasons.top_reasons`` does (positive groups only, the group's
strongest feature named), then words the strongest feature against the baseline it
was computed from (``texts.describe`` on a vectorised ``context.build_context``).
Whatever cannot be worded (unseen party, missing input, unknown feature) keeps the
generic text of ``models.reasons``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.reasons import Grouping, Reason, grouping
from serving.explain.context import ExplainContext, build_context
from serving.explain.texts import describe


def group_contributions(
    contributions: np.ndarray, names: list[str] | tuple[str, ...]
) -> tuple[Grouping, np.ndarray, np.ndarray]:
    """(grouping, per-code sums (n, G), strongest feature column per code (n, G))."""
    groups = grouping(tuple(names))
    contributions = np.asarray(contributions, dtype=np.float64)
    sums = contributions @ groups.member
    best = np.empty(sums.shape, dtype=np.int64)
    for g, cols in enumerate(groups.columns):
        best[:, g] = cols[np.argmax(contributions[:, cols], axis=1)]
    return groups, sums, best


def top_groups(
    contributions: np.ndarray, names: list[str] | tuple[str, ...], k: int = 3
) -> list[list[tuple[Reason, float, int]]]:
    """Per row, the k reason codes with the largest positive sum and their strongest feature
    column: the selection of ``models.reasons.top_reasons``, vectorised."""
    groups, sums, best = group_contributions(contributions, names)
    if sums.shape[0] == 0:
        return []
    order = np.argsort(-sums, axis=1)[:, :k]
    picked = np.take_along_axis(sums, order, axis=1)
    feature = np.take_along_axis(best, order, axis=1)
    out: list[list[tuple[Reason, float, int]]] = []
    for i in range(sums.shape[0]):
        row = []
        for c in range(order.shape[1]):
            if picked[i, c] <= 0:
                break
            row.append((groups.reasons[order[i, c]], float(picked[i, c]), int(feature[i, c])))
        out.append(row)
    return out


def _json_number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def reason_dict(
    ctx: ExplainContext, i: int, reason: Reason, contribution: float, column: int
) -> dict[str, Any]:
    """One reason as stored and shown: code, family, text, feature, value, baseline, contribution.

    ``value``/``baseline`` are in the text's units (EUR/kg, rate as a fraction, days...);
    without a specific text, ``value`` is the feature as the model saw it.
    """
    feature = ctx.names[column]
    phrase = describe(feature, ctx, i)
    if phrase is None:
        return {
            "code": reason.code,
            "family": reason.family,
            "text": reason.text,
            "feature": feature,
            "value": _json_number(ctx.feature(feature, i)),
            "baseline": None,
            "contribution": contribution,
        }
    return {
        "code": reason.code,
        "family": reason.family,
        "text": phrase.text,
        "feature": feature,
        "value": phrase.value,
        "baseline": phrase.baseline,
        "contribution": contribution,
    }


def contributions_of(scorer: Any, batch: Any) -> np.ndarray:
    """The batch's TreeSHAP contributions (n, F), computed when scoring skipped them."""
    if getattr(batch, "contributions", None) is not None:
        return np.asarray(batch.contributions)
    return scorer.booster.predict(np.asarray(batch.features), pred_contrib=True)[:, :-1]


def explain_rows(scorer: Any, batch: Any, k: int = 3) -> list[list[dict[str, Any]]]:
    """For each row of a ``ScoredBatch``, its top ``k`` reasons as officer-readable dicts.

    ``scorer`` is a ``serving.scoring.Scorer`` (its ``pipeline``, ``names``, ``booster``);
    ``batch`` carries ``features``, ``contributions`` and ``inputs`` (both optional:
    contributions are recomputed, missing inputs give the generic texts).
    """
    contributions = contributions_of(scorer, batch)
    ctx = build_context(scorer.pipeline, scorer.names, batch.features, batch.inputs)
    return [
        [reason_dict(ctx, i, reason, total, column) for reason, total, column in row]
        for i, row in enumerate(top_groups(contributions, scorer.names, k))
    ]
