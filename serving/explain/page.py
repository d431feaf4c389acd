"""The officer's explanation page of one decision: self-contained, server-rendered HTML.

``render_explanation(record, scorer)`` renders a stored decision record: score, band and
decision; the reasons; a waterfall of the tree model's log-odds by reason group; the
declaration against its baselines; the party network around it with past hits; the
declaration and its ENS. The markup lives in Jinja2 templates (``templates/page.html``
and the SVG templates it includes), escaped by autoescaping; this module prepares what
they show. Inline CSS and inline SVG only: no script, no external asset, no link off
the page.

``render_explanation_for(declaration, scorer, decision)`` scores a declaration, builds
the record and renders it (tests, scripts, previews).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from serving.explain import fmt
from serving.explain.context import ExplainContext
from serving.explain.network import Neighbourhood, neighbourhood, network_view, party_ids
from serving.explain.reasons import reason_dict, top_groups
from serving.explain.record import Explained, explain_record, make_record
from serving.explain.tables import (
    ENS_NOT_SENT,
    Row,
    baseline_checks,
    declaration_fields,
    ens_tables,
    party_rows,
)
from serving.explain.templating import render
from serving.explain.waterfall import steps, waterfall_view

logger = logging.getLogger("serving.explain")

ENS_STATUSES = ("filed", "not_filed", "not_sent")
NETWORK_NOTE = (
    "Links are declarations lodged before this one (importer–declarant, importer–seller, "
    "consignee–consignor; dashed: carrier). Records count control results known before this "
    "declaration. Hover a node for its record."
)
NETWORK_LEAD = (
    "The declaration's parties and up to 20 of their trading partners, as known before it."
)


def summary(record: dict[str, Any], scorer: Any) -> dict[str, Any]:
    """Score, band, risk type, expected revenue and the control decision, as shown."""
    score = record.get("score")
    band = str(record.get("risk_band") or "unknown")
    bands = getattr(scorer, "bands", {}) or {}
    decision = record.get("decision") or {}
    propensity = decision.get("propensity")
    basis = f"basis: {decision.get('basis') or 'n/a'}"
    if fmt.finite(propensity):
        basis += f" · propensity {fmt.pct(propensity)}"
    threshold = decision.get("threshold")
    if fmt.finite(threshold):
        basis += f" · threshold {fmt.number(threshold, 3)}"
    risk_type = (record.get("likely_risk_type") or record.get("risk_type")) or "n/a"
    return {
        "score": fmt.pct(score) if fmt.finite(score) else "n/a",
        "band": band,
        "thresholds": ", ".join(f"{k} ≥ {fmt.number(v, 2)}" for k, v in bands.items()),
        "risk_type": str(risk_type).replace("_", " "),
        "revenue": fmt.eur(record.get("expected_revenue")),
        "selected": decision.get("selected"),
        "basis": basis,
    }


def _reasons(record: dict[str, Any], ex: Explained) -> list[dict[str, Any]]:
    """The stored reasons, else the reasons of the recomputed contributions."""
    stored = record.get("reasons")
    if isinstance(stored, list) and stored:
        return [r for r in stored if isinstance(r, dict)]
    rows = top_groups(ex.contributions[None, :], ex.names, 5)
    return [reason_dict(ex.ctx, 0, reason, total, col) for reason, total, col in rows[0]]


def reason_items(reasons: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The numbered reasons as shown: code, text, family and feature, contribution."""
    out = []
    for r in reasons:
        contribution = r.get("contribution")
        out.append(
            {
                "code": str(r.get("code", "")),
                "text": str(r.get("text", "")),
                "family": f"{r.get('family', '')} · feature {r.get('feature', '')}",
                "contribution": fmt.log_odds(contribution) if fmt.finite(contribution) else "",
            }
        )
    return out


def flagged_rows(nb: Neighbourhood | None) -> list[Row]:
    """The parties shown with past irregularities, most hits first."""
    flagged = sorted(
        (p for p in (nb.parties if nb else []) if p.hits > 0), key=lambda p: (-p.hits, p.party)
    )
    return [
        Row(
            [
                p.party,
                " / ".join(p.roles) or "linked",
                f"{fmt.count(p.hits)} / {fmt.count(p.controls)}",
            ],
            bool(p.roles),
        )
        for p in flagged
    ]


@dataclass
class NetworkSection:
    """What the party network section shows; ``message`` alone when there is no network."""

    message: str = ""
    lead: str = ""
    svg: dict[str, Any] | None = None
    flagged: list[Row] = field(default_factory=list)
    flagged_more: str = ""
    note: str = NETWORK_NOTE
    parties: list[Row] = field(default_factory=list)


def network_section(ex: Explained, scorer: Any, limit: int = 10) -> NetworkSection:
    """The party network drawing, its parties with past hits, and the parties table."""
    graph = next((b for b in scorer.pipeline.blocks if getattr(b, "name", "") == "graph"), None)
    ctx: ExplainContext = ex.ctx
    if graph is None or ctx.time[0] < 0:
        return NetworkSection(message="No party network available for this model or declaration.")
    overall = ctx.x("graph_global_rate", 0)
    nb: Neighbourhood | None = None
    svg = None
    try:
        nb = neighbourhood(graph, party_ids(ctx), int(ctx.time[0]))
        svg = network_view(nb, overall if fmt.finite(overall) else 0.05)
    except Exception as exc:  # never lose the page over the drawing
        logger.warning("explanation: network unavailable (%s)", exc)
    flagged = flagged_rows(nb)
    more = f"and {len(flagged) - limit} more in the network" if len(flagged) > limit else ""
    return NetworkSection(
        lead=NETWORK_LEAD,
        svg=svg,
        flagged=flagged[:limit],
        flagged_more=more,
        parties=party_rows(ctx),
    )


def ens_status(record: dict[str, Any], declaration: dict[str, Any]) -> str | None:
    """``filed``, ``not_filed`` or ``not_sent``: the record's own ``ens_status`` field when
    it has one (top level or in its decision), else ``not_sent`` for a declaration that
    names an ENS without embedding it; None when unknown."""
    decision = record.get("decision") if isinstance(record.get("decision"), dict) else {}
    for source in (record, decision, declaration):
        value = source.get("ens_status")
        if value in ENS_STATUSES:
            return str(value)
    if declaration.get("ens_id") and not isinstance(declaration.get("ens"), dict):
        return "not_sent"
    return None


def footer(record: dict[str, Any], scorer: Any) -> dict[str, Any]:
    """Traceability: decision, declaration, model and bundle identifiers."""
    model = record.get("model") or {}
    manifest = getattr(scorer, "manifest", {}) or {}
    return {
        "decision_id": record.get("decision_id"),
        "declaration_id": record.get("declaration_id"),
        "model": model.get("name"),
        "version": model.get("version"),
        "alias": model.get("alias"),
        "spec": str(manifest.get("feature_spec_hash", "n/a"))[:12],
        "commit": str(manifest.get("git_commit", "n/a"))[:12],
        "rendered": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def page_view(
    record: dict[str, Any], scorer: Any, model_version: str | None = None
) -> dict[str, Any]:
    """Everything ``templates/page.html`` shows of a stored decision record."""
    ex = explain_record(record, scorer, model_version)
    reasons = _reasons(record, ex)
    declaration = record.get("declaration") if isinstance(record.get("declaration"), dict) else {}
    model = record.get("model") or {}
    status = ens_status(record, declaration)
    meta = (
        f"decision {record.get('decision_id', 'n/a')}"
        f" · received {fmt.when(record.get('received_at') or record.get('decided_at'))}"
        f" · model {model.get('name', 'n/a')} version {model.get('version', 'n/a')}"
        + (f" ({model.get('alias')})" if model.get("alias") else "")
    )
    texts = {r.get("code"): r.get("text") for r in reasons}
    chart_lead = (
        f"TreeSHAP contributions of the tree model, summed by reason code: from the average "
        f"declaration ({ex.base:.2f} log-odds) to this one ({ex.final:.2f}, i.e. "
        f"{fmt.pct(1 / (1 + np.exp(-ex.final)))} before calibration). Red pushes towards control, "
        f"blue away. The risk score above blends these trees with the network model."
    )
    has_inputs = "importer" in ex.ctx.text
    return {
        "declaration_id": record.get("declaration_id")
        or declaration.get("declaration_id")
        or "unknown",
        "meta": meta,
        "notes": ex.notes,
        "summary": summary(record, scorer),
        "reasons": reason_items(reasons),
        "chart_lead": chart_lead,
        "waterfall": waterfall_view(steps(ex.contributions, ex.names, ex.base, texts)),
        "checks": baseline_checks(ex.ctx, status) if has_inputs else None,
        "network": network_section(ex, scorer) if has_inputs else None,
        "fields": declaration_fields(declaration),
        "ens": ens_tables(declaration),
        "ens_line": ENS_NOT_SENT if status == "not_sent" else "",
        "footer": footer(record, scorer),
    }


def render_explanation(
    record: dict[str, Any], scorer: Any, model_version: str | None = None
) -> str:
    """The explanation page of a stored decision record (see the module docstring), made
    with ``scorer``, the model of version ``model_version`` loaded now."""
    return render("page.html", page=page_view(record, scorer, model_version))


def render_explanation_for(
    declaration: dict[str, Any], scorer: Any, decision: dict[str, Any] | None = None
) -> str:
    """Score ``declaration``, build its decision record and render the page.

    ``decision`` is the record's decision part (``selected``, ``basis``, ``propensity``);
    it may also carry ``decision_id``, ``received_at`` and ``model``. Without it the page
    shows a preview decision (selected when the band is high).
    """
    return render_explanation(make_record(declaration, scorer, decision), scorer)
