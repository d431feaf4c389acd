"""The officer's explanation page of one decision: self-contained, server-rendered HTML.

``render_explanation(record, scorer)`` renders a stored decision record: score, band and
decision; the reasons; a waterfall of the tree model's log-odds by reason group; the
declaration against its baselines; the party network around it with past hits; the
declaration and its ENS. Inline CSS and inline SVG only: no script, no external asset,
no link off the page. Every piece of data is HTML-escaped.

``render_explanation_for(declaration, scorer, decision)`` scores a declaration, builds
the record and renders it (tests, scripts, previews).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np

from serving.explain import fmt
from serving.explain.context import ExplainContext
from serving.explain.markup import esc, tag
from serving.explain.network import Neighbourhood, neighbourhood, network_svg, party_ids
from serving.explain.reasons import reason_dict, top_groups
from serving.explain.record import Explained, explain_record, make_record
from serving.explain.style import CSS
from serving.explain.tables import (
    baseline_checks,
    checks_table,
    declaration_table,
    ens_tables,
    parties_table,
)
from serving.explain.waterfall import steps, waterfall_svg

logger = logging.getLogger("serving.explain")


def _card(label: str, value: str, sub: str = "") -> str:
    """A summary card; ``value`` and ``sub`` are markup (escape data before)."""
    return tag(
        "div",
        [
            tag("div", esc(label), class_="k"),
            tag("div", value, class_="v"),
            tag("div", sub, class_="s"),
        ],
        class_="card",
    )


def summary(record: dict[str, Any], scorer: Any) -> str:
    """Score, band, risk type, expected revenue and the control decision."""
    score = record.get("score")
    band = str(record.get("risk_band") or "unknown")
    bands = getattr(scorer, "bands", {}) or {}
    thresholds = ", ".join(f"{k} ≥ {fmt.number(v, 2)}" for k, v in bands.items())
    decision = record.get("decision") or {}
    selected = decision.get("selected")
    verdict = (
        tag("span", "Selected", class_="selected")
        if selected
        else tag("span", "Not selected", class_="not-selected")
        if selected is not None
        else "n/a"
    )
    propensity = decision.get("propensity")
    basis = f"basis: {esc(decision.get('basis') or 'n/a')}"
    if fmt.finite(propensity):
        basis += f" · propensity {esc(fmt.pct(propensity))}"
    threshold = decision.get("threshold")
    if fmt.finite(threshold):
        basis += f" · threshold {esc(fmt.number(threshold, 3))}"
    return tag(
        "div",
        [
            _card(
                "Risk score",
                esc(fmt.pct(score) if fmt.finite(score) else "n/a"),
                "calibrated probability of an irregularity",
            ),
            _card("Risk band", tag("span", esc(band), class_=f"band {esc(band)}"), esc(thresholds)),
            _card(
                "Likely risk type",
                esc(
                    str(
                        (record.get("likely_risk_type") or record.get("risk_type")) or "n/a"
                    ).replace("_", " ")
                ),
                "most probable type if irregular",
            ),
            _card(
                "Expected revenue",
                esc(fmt.eur(record.get("expected_revenue"))),
                "duty and VAT expected to be recovered",
            ),
            _card("Control decision", verdict, basis),
        ],
        class_="cards",
    )


def _reasons(record: dict[str, Any], ex: Explained) -> list[dict[str, Any]]:
    """The stored reasons, else the reasons of the recomputed contributions."""
    stored = record.get("reasons")
    if isinstance(stored, list) and stored:
        return [r for r in stored if isinstance(r, dict)]
    rows = top_groups(ex.contributions[None, :], ex.names, 5)
    return [reason_dict(ex.ctx, 0, reason, total, col) for reason, total, col in rows[0]]


def reasons_list(reasons: list[dict[str, Any]]) -> str:
    """The numbered reasons: code, text, family, contribution."""
    if not reasons:
        return tag("p", "No factor raised this score above the average declaration.", class_="lead")
    items = []
    for r in reasons:
        contribution = r.get("contribution")
        items.append(
            tag(
                "li",
                [
                    tag("span", esc(r.get("code", "")), class_="code"),
                    tag(
                        "span",
                        esc(r.get("text", ""))
                        + tag(
                            "span",
                            esc(f"{r.get('family', '')} · feature {r.get('feature', '')}"),
                            class_="fam",
                        ),
                        class_="reason-text",
                    ),
                    tag(
                        "span",
                        esc(fmt.log_odds(contribution) if fmt.finite(contribution) else ""),
                        class_="contrib",
                    ),
                ],
            )
        )
    return tag("ol", items, class_="reasons")


def _section(title: str, lead: str, body: str, ident: str) -> str:
    return tag(
        "section",
        [tag("h2", esc(title)), tag("p", esc(lead), class_="lead") if lead else "", body],
        id=ident,
    )


def _flagged_table(nb: Neighbourhood | None, limit: int = 10) -> str:
    """The parties shown with past irregularities, most hits first."""
    flagged = sorted(
        (p for p in (nb.parties if nb else []) if p.hits > 0), key=lambda p: (-p.hits, p.party)
    )
    if not flagged:
        return tag("p", "None among the parties shown.", class_="lead")
    head = tag("tr", [tag("th", h) for h in ("Party", "Role", "Irregularities / controls")])
    rows = [
        tag(
            "tr",
            [
                tag("td", esc(p.party)),
                tag("td", esc(" / ".join(p.roles) or "linked")),
                tag("td", esc(f"{fmt.count(p.hits)} / {fmt.count(p.controls)}"), class_="num"),
            ],
            class_="flag" if p.roles else None,
        )
        for p in flagged[:limit]
    ]
    out = tag("table", [tag("thead", head), tag("tbody", rows)], class_="grid small")
    if len(flagged) > limit:
        out += tag("p", esc(f"and {len(flagged) - limit} more in the network"), class_="lead")
    return out


NETWORK_NOTE = (
    "Links are declarations lodged before this one (importer–declarant, importer–seller, "
    "consignee–consignor; dashed: carrier). Records count control results known before this "
    "declaration. Hover a node for its record."
)


def network_section(ex: Explained, scorer: Any) -> str:
    """The party network SVG, its parties with past hits, and the parties table."""
    graph = next((b for b in scorer.pipeline.blocks if getattr(b, "name", "") == "graph"), None)
    ctx: ExplainContext = ex.ctx
    if graph is None or ctx.time[0] < 0:
        body = tag("p", "No party network available for this model or declaration.", class_="lead")
        return _section("Party network", "", body, "network-section")
    overall = ctx.x("graph_global_rate", 0)
    nb: Neighbourhood | None = None
    try:
        nb = neighbourhood(graph, party_ids(ctx), int(ctx.time[0]))
        svg = network_svg(nb, overall if fmt.finite(overall) else 0.05)
    except Exception as exc:  # never lose the page over the drawing
        logger.warning("explanation: network unavailable (%s)", exc)
        svg = tag("p", "Party network unavailable.", class_="lead")
    side = [
        tag("h3", "Parties with past irregularities"),
        _flagged_table(nb),
        tag("p", esc(NETWORK_NOTE), class_="lead"),
    ]
    body = tag("div", [tag("div", svg, class_="chart"), tag("div", side)], class_="net")
    body += tag("h3", "The declaration's parties") + parties_table(ctx)
    lead = "The declaration's parties and up to 20 of their trading partners, as known before it."
    return _section("Party network", lead, body, "network-section")


def footer(record: dict[str, Any], scorer: Any) -> str:
    """Traceability: decision, declaration, model and bundle identifiers."""
    model = record.get("model") or {}
    manifest = getattr(scorer, "manifest", {}) or {}
    items = [
        f"decision {esc(record.get('decision_id'))}",
        f"declaration {esc(record.get('declaration_id'))}",
        f"model {esc(model.get('name'))} version {esc(model.get('version'))}"
        + (f" ({esc(model.get('alias'))})" if model.get("alias") else ""),
        f"feature spec {tag('code', esc(str(manifest.get('feature_spec_hash', 'n/a'))[:12]))}",
        f"code {tag('code', esc(str(manifest.get('git_commit', 'n/a'))[:12]))}",
        f"rendered {esc(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))}",
    ]
    return tag("footer", " · ".join(items))


def render_explanation(
    record: dict[str, Any], scorer: Any, model_version: str | None = None
) -> str:
    """The explanation page of a stored decision record (see the module docstring), made
    with ``scorer``, the model of version ``model_version`` loaded now."""
    ex = explain_record(record, scorer, model_version)
    reasons = _reasons(record, ex)
    declaration = record.get("declaration") if isinstance(record.get("declaration"), dict) else {}
    model = record.get("model") or {}
    decl_id = record.get("declaration_id") or declaration.get("declaration_id") or "unknown"
    meta = (
        f"decision {esc(record.get('decision_id', 'n/a'))}"
        f" · received {esc(fmt.when(record.get('received_at') or record.get('decided_at')))}"
        f" · model {esc(model.get('name', 'n/a'))} version {esc(model.get('version', 'n/a'))}"
        + (f" ({esc(model.get('alias'))})" if model.get("alias") else "")
    )
    header = tag(
        "header",
        [
            tag("h1", esc(f"Risk explanation · declaration {decl_id}")),
            tag("div", meta, class_="meta"),
        ],
        class_="top",
    )
    notes = tag("div", "<br>".join(esc(n) for n in ex.notes), class_="notes") if ex.notes else ""
    texts = {r.get("code"): r.get("text") for r in reasons}
    bars = steps(ex.contributions, ex.names, ex.base, texts)
    chart = tag("div", waterfall_svg(bars), class_="chart")
    chart_lead = (
        f"TreeSHAP contributions of the tree model, summed by reason code: from the average "
        f"declaration ({ex.base:.2f} log-odds) to this one ({ex.final:.2f}, i.e. "
        f"{fmt.pct(1 / (1 + np.exp(-ex.final)))} before calibration). Red pushes towards control, "
        f"blue away. The risk score above blends these trees with the network model."
    )
    has_inputs = "importer" in ex.ctx.text
    checks = (
        checks_table(baseline_checks(ex.ctx))
        if has_inputs
        else tag("p", "Declaration unavailable.", class_="lead")
    )
    ens = ens_tables(declaration) or tag("p", "No ENS embedded.", class_="lead")
    decl_body = declaration_table(declaration) + tag("h3", "Entry summary declaration (ENS)") + ens
    main = tag(
        "main",
        [
            notes,
            tag("section", summary(record, scorer), id="summary"),
            _section(
                "Why this score",
                "The main factors that raised the score, with the numbers behind them.",
                reasons_list(reasons),
                "reasons",
            ),
            _section("Score breakdown", chart_lead, chart, "waterfall-section"),
            _section(
                "Declaration against its baselines",
                "Baselines are those the model used, as of the declaration's date (earlier"
                " declarations only). Highlighted rows stand out.",
                checks,
                "baselines",
            ),
            network_section(ex, scorer) if has_inputs else "",
            _section("Declaration and ENS", "", decl_body, "declaration"),
            footer(record, scorer),
        ],
    )
    head = tag(
        "head",
        [
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            tag("title", esc(f"Explanation · {decl_id}")),
            tag("style", CSS),
        ],
    )
    return "<!DOCTYPE html>\n" + tag("html", [head, tag("body", [header, main])], lang="en") + "\n"


def render_explanation_for(
    declaration: dict[str, Any], scorer: Any, decision: dict[str, Any] | None = None
) -> str:
    """Score ``declaration``, build its decision record and render the page.

    ``decision`` is the record's decision part (``selected``, ``basis``, ``propensity``);
    it may also carry ``decision_id``, ``received_at`` and ``model``. Without it the page
    shows a preview decision (selected when the band is high).
    """
    return render_explanation(make_record(declaration, scorer, decision), scorer)
