"""From a stored decision record to the numbers the page shows.

A record holds the declaration, and usually the features and TreeSHAP contributions
the decision was made with. ``explain_record`` rebuilds what is missing with the
scorer (inputs from the declaration, features from the fitted state, contributions
from the trees), takes the base value from the trees, and builds the single-row
explanation context. ``make_record`` is the other direction: score a declaration and
produce the record the API would store (for tests, scripts and previews).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.inputs import Inputs, inputs_from_records
from serving.ens_status import ens_status
from serving.explain.context import ExplainContext, build_context
from serving.explain.reasons import explain_rows
from serving.schemas import flat_record

logger = logging.getLogger("serving.explain")


@dataclass
class Explained:
    """One declaration's vectors and context, ready to render."""

    names: list[str]
    features: np.ndarray  # (F,)
    contributions: np.ndarray  # (F,)
    base: float  # TreeSHAP base value (log-odds)
    ctx: ExplainContext
    notes: list[str]  # caveats shown on the page (recomputed parts, mismatches)
    # filed / not_filed / not_sent (an ens_id whose filing was not sent): serving.ens_status
    ens_status: str = "not_filed"

    @property
    def final(self) -> float:
        """The tree model's log-odds: base plus every contribution."""
        return self.base + float(np.sum(self.contributions))


def _vector(values: Any, names: list[str]) -> np.ndarray | None:
    """A complete name -> value mapping as a vector (None -> NaN); None when incomplete."""
    if not isinstance(values, dict) or not names or any(n not in values for n in names):
        return None
    out = np.empty(len(names), dtype=np.float64)
    for j, n in enumerate(names):
        v = values[n]
        try:
            out[j] = math.nan if v is None else float(v)
        except (TypeError, ValueError):
            return None
    return out


def record_inputs(declaration: Any, with_ens: bool) -> Inputs | None:
    """The declaration as scoring inputs; None when it cannot be read."""
    if not isinstance(declaration, dict) or not declaration:
        return None
    try:
        return inputs_from_records([flat_record(dict(declaration))], with_ens=with_ens)
    except Exception as exc:  # a partial or malformed stored declaration
        logger.debug("explanation: declaration unreadable (%s)", exc)
        return None


def explain_record(
    record: dict[str, Any], scorer: Any, model_version: str | None = None
) -> Explained:
    """Features, contributions, base value and context of a decision record, explained
    with ``scorer`` (the model loaded now, version ``model_version``)."""
    names = list(scorer.names)
    notes: list[str] = []
    inputs = record_inputs(record.get("declaration"), scorer.pipeline.with_ens())
    x = _vector(record.get("features"), names)
    if x is None:
        if inputs is None:
            x = np.full(len(names), np.nan)
            notes.append(
                "Features unavailable: neither stored nor computable from the declaration."
            )
        else:
            x = scorer.pipeline.transform_inputs(inputs)[0].astype(np.float64)
            notes.append("Features recomputed from the declaration with the current model state.")
    contrib = _vector(record.get("contributions"), names)
    stored_base = record.get("shap_base")
    as_made = contrib is not None and isinstance(stored_base, (int, float))
    logged = (record.get("model") or {}).get("version")
    if model_version is not None and logged is not None and str(logged) != str(model_version):
        notes.append(_other_version_note(str(logged), str(model_version), as_made))
    if as_made:
        base = float(stored_base)  # the decision as made, whatever model is loaded now
    else:
        full = scorer.booster.predict(x[None, :], pred_contrib=True)[0]
        base = float(full[-1])
        if contrib is None:
            contrib = full[:-1]
            if record.get("contributions"):
                notes.append("Stored contributions do not match this model's features: recomputed.")
    stored_spec = (record.get("model") or {}).get("feature_spec_hash")
    current_spec = (getattr(scorer, "manifest", None) or {}).get("feature_spec_hash")
    if stored_spec and current_spec and stored_spec != current_spec:
        notes.append(
            f"The decision was made with feature spec {str(stored_spec)[:12]}; this page"
            f" explains it with the loaded model's spec {str(current_spec)[:12]}."
        )
    ctx = build_context(scorer.pipeline, names, x[None, :].astype(np.float32), inputs)
    if inputs is None:
        notes.append("Declaration unreadable: baselines and network not shown.")
    declaration = record.get("declaration")
    status = ens_status(declaration) if isinstance(declaration, dict) else "not_filed"
    contributions = np.asarray(contrib, dtype=np.float64)
    return Explained(names, x, contributions, base, ctx, notes, status)


def _other_version_note(logged: str, loaded: str, as_made: bool) -> str:
    """What the page shows of a decision made by another model version than the one loaded."""
    if as_made:
        return (
            f"The decision was made by model version {logged}: the chart shows its stored"
            f" contributions; baselines and network come from the version loaded now ({loaded})."
        )
    return (
        f"The decision was made by model version {logged}; this page explains it with the"
        f" version loaded now ({loaded}): the chart and baselines are that model's, and may"
        " differ from the reasons given with the decision."
    )


def _json(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def make_record(
    declaration: dict[str, Any], scorer: Any, decision: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score one declaration and build the decision record the page reads."""
    batch = scorer.score_records([declaration])
    reasons = explain_rows(scorer, batch, k=3)[0]
    names = list(scorer.names)
    contrib = batch.contributions[0] if batch.contributions is not None else None
    band = str(batch.band[0])
    manifest = getattr(scorer, "manifest", {}) or {}
    decision = dict(decision or {})
    return {
        "decision_id": decision.pop("decision_id", None)
        or f"preview-{declaration.get('declaration_id')}",
        "declaration_id": declaration.get("declaration_id"),
        "received_at": decision.pop("received_at", None) or datetime.now(UTC).isoformat(),
        "model": decision.pop("model", None)
        or {
            "name": manifest.get("model_name", "targeting"),
            "version": str(
                manifest.get("version") or f"bundle-{str(manifest.get('created_at', ''))[:10]}"
            ),
            "alias": None,
        },
        "score": _json(batch.score[0]),
        "expected_revenue": _json(batch.expected_revenue[0]),
        "risk_band": band,
        "likely_risk_type": str(batch.risk_type[0]),
        "decision": decision
        or {"selected": band == "high", "basis": "preview", "propensity": None},
        "reasons": reasons,
        "features": {n: _json(v) for n, v in zip(names, batch.features[0], strict=True)},
        "contributions": (
            {n: _json(v) for n, v in zip(names, contrib, strict=True)}
            if contrib is not None
            else None
        ),
        "declaration": declaration,
    }


def _plain(value: Any) -> Any:
    """A frame cell as a JSON-like value: None for missing, ISO text for timestamps."""
    if isinstance(value, (list, dict)):
        return value
    try:
        if value is None or bool(pd.isna(value)):
            return None
    except (TypeError, ValueError):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return _json(value)


def declaration_from_frames(
    declarations: pd.DataFrame,
    declaration_id: str,
    ens_filings: pd.DataFrame | None = None,
    ens_items: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The canonical declaration dict of one row of canonical frames, its ENS embedded
    as ``{"versions": [...], "items": [...]}`` (the API's input shape)."""
    rows = declarations[declarations["declaration_id"] == declaration_id]
    if rows.empty:
        raise KeyError(f"declaration {declaration_id!r} not in the frame")
    record = {k: _plain(v) for k, v in rows.iloc[0].to_dict().items()}
    ens_id = record.get("ens_id")
    if ens_filings is not None and ens_id is not None:
        versions = ens_filings[ens_filings["filing_id"] == ens_id]
        items = (
            ens_items[ens_items["filing_id"] == ens_id] if ens_items is not None else pd.DataFrame()
        )
        record["ens"] = {
            "versions": [{k: _plain(v) for k, v in r.items()} for r in versions.to_dict("records")],
            "items": [{k: _plain(v) for k, v in r.items()} for r in items.to_dict("records")],
        }
    return record
