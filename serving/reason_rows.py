"""Reasons of a scored batch as API dicts: {code, family, text, feature, value, baseline,
contribution}.

Officer-readable texts come from ``serving.explain.reasons.explain_rows`` when that
module is installed; otherwise (or if it fails on a batch, which is logged and
counted) from the stable reason codes of ``models.reasons`` carried by the batch, the
value being the model input of the reason's strongest feature and the baseline null.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable
from typing import Any

from serving.scoring import ScoredBatch, Scorer

logger = logging.getLogger("serving.reasons")
ExplainRows = Callable[..., list[list[dict[str, Any]]]]
KEYS = ("code", "family", "text", "feature", "value", "baseline", "contribution")


def find_explainer() -> ExplainRows | None:
    """``serving.explain.reasons.explain_rows`` if importable, else None."""
    try:
        module = importlib.import_module("serving.explain.reasons")
    except ImportError:
        return None
    return getattr(module, "explain_rows", None)


SIGNIFICANT_DIGITS = 6  # reason numbers are given to 6 significant digits (no float noise)


def _number(value: Any) -> float | None:
    """A finite number to ``SIGNIFICANT_DIGITS`` significant digits (0.005, not
    0.005000000000000001); None for missing or non-finite values."""
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else None


def _clean(row: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """Reason dicts with exactly the API's keys, JSON-safe numbers, at most ``k``."""
    out = []
    for r in row[:k]:
        item = {key: r.get(key) for key in KEYS}
        item["value"] = _number(item["value"])
        item["baseline"] = _number(item["baseline"])
        item["contribution"] = _number(item["contribution"]) or 0.0
        item["feature"] = str(item["feature"] or "")
        out.append(item)
    return out


def code_rows(scorer: Scorer, batch: ScoredBatch, k: int) -> list[list[dict[str, Any]]]:
    """Reasons from ``batch.reasons`` (models.reasons codes and their generic texts)."""
    column = {name: j for j, name in enumerate(scorer.names)}
    out = []
    for i, row in enumerate(batch.reasons or []):
        out.append(
            [
                {
                    "code": reason.code,
                    "family": reason.family,
                    "text": reason.text,
                    "feature": feature,
                    "value": batch.features[i, column[feature]],
                    "contribution": contribution,
                }
                for reason, contribution, feature in row[:k]
            ]
        )
    return out


def reason_rows(
    scorer: Scorer,
    batch: ScoredBatch,
    k: int,
    explainer: ExplainRows | None,
    on_fallback: Callable[[], None] | None = None,
) -> list[list[dict[str, Any]]]:
    """Per row, its top ``k`` reasons as API dicts."""
    rows = None
    if explainer is not None:
        try:
            rows = explainer(scorer, batch, k=k)
        except Exception as exc:  # texts must never cost a decision: codes still hold
            logger.error("reason texts failed (%s); using reason codes", type(exc).__name__)
            if on_fallback is not None:
                on_fallback()
    if rows is None:
        rows = code_rows(scorer, batch, k)
    return [_clean(row, k) for row in rows]
