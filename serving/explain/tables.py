"""The page's tables: the declaration against its baselines, its parties, its raw fields.

Every number comes from the explanation context (the fitted state as of the
declaration's time) or the declaration itself; every cell is escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from serving.explain import fmt
from serving.explain.context import ExplainContext
from serving.explain.markup import esc, tag
from serving.explain.texts import compare, kind_label


@dataclass(frozen=True)
class Check:
    """One row of the baselines table; ``flag`` marks what stands out."""

    check: str
    declared: str
    baseline: str
    difference: str
    flag: bool = False


def _unit_checks(ctx: ExplainContext, per: str, kinds: tuple[str, ...]) -> list[Check]:
    declared = ctx.x("uv_kg" if per == "kg" else "uv_unit", 0)
    what = "Value per kg" if per == "kg" else "Value per unit"
    out = []
    for kind in kinds:
        median, n = ctx.baseline(f"{per}_{kind}", 0)
        label = f"{what} vs median {kind_label(ctx, kind, 0)}"
        if not fmt.finite(declared):
            out.append(Check(label, "not declared", "", ""))
            continue
        if n < ctx.min_count or not fmt.finite(median) or median <= 0:
            out.append(
                Check(
                    label,
                    fmt.eur_per(declared, per),
                    f"no baseline ({fmt.plural(n, 'declaration')})",
                    "",
                )
            )
            continue
        ratio = declared / median
        out.append(
            Check(
                label,
                fmt.eur_per(declared, per),
                f"{fmt.eur_per(median, per)} ({fmt.plural(n, 'declaration')})",
                compare(declared, median).replace(" the median", ""),
                ratio <= 0.5 or ratio >= 3,
            )
        )
    return out


def _duty_checks(ctx: ExplainContext) -> list[Check]:
    duty = ctx.x("duty", 0)
    if not fmt.finite(duty):
        return [Check("Duty rate", "not declared", "", "")]
    out = []
    median, n = ctx.baseline("duty_hs6", 0)
    hs6 = ctx.s("hs6", 0) or "this code"
    if fmt.finite(median) and n > 0:
        diff = duty - median
        out.append(
            Check(
                f"Duty rate vs usual for HS {hs6}",
                fmt.pct(duty),
                f"{fmt.pct(median)} (median of {fmt.plural(n, 'declaration')})",
                f"{fmt.points(diff)} {'below' if diff < 0 else 'above'}"
                if abs(diff) > 5e-4
                else "same",
                diff < -0.03,
            )
        )
    top = ctx.x("hs4_max_duty", 0)
    hs4 = ctx.s("hs4", 0) or "of this code"
    if fmt.finite(top):
        spread = top - duty
        out.append(
            Check(
                f"Duty rate vs highest in heading {hs4}",
                fmt.pct(duty),
                fmt.pct(top),
                f"{fmt.points(spread)} below" if spread > 5e-4 else "highest in heading",
                spread >= 0.05,
            )
        )
    if not out:
        out.append(Check("Duty rate", fmt.pct(duty), "no baseline", ""))
    return out


def _route_checks(ctx: ExplainContext) -> list[Check]:
    origin, dispatch = ctx.s("origin", 0), ctx.s("dispatch", 0)
    out = [
        Check(
            "Origin / dispatch country",
            f"{origin or 'n/a'} / {dispatch or 'n/a'}",
            "",
            "differ" if origin and dispatch and origin != dispatch else "same",
            bool(origin and dispatch and origin != dispatch),
        )
    ]
    route = ctx.s("route", 0)
    if route is None:
        out.append(Check("Route (ENS itinerary)", "no ENS linked", "", ""))
        return out
    pair, chapter = ctx.x("route_count", 0), ctx.x("chapter_count", 0)
    hs2 = ctx.s("hs2", 0) or "?"
    if fmt.finite(pair) and fmt.finite(chapter):
        share = (pair + 1.0) / (chapter + 1.0)
        out.append(
            Check(
                f"Route frequency in HS chapter {hs2}",
                route,
                f"{fmt.share(pair, chapter)} earlier declarations",
                f"{fmt.pct(pair / chapter) if chapter else '0%'} of the chapter",
                share < 0.05,
            )
        )
    via = route.split("-")[1:-1]
    out.append(
        Check(
            "Transit countries", ", ".join(via) if via else "none (direct)", "", "", len(via) >= 2
        )
    )
    loading = ctx.s("loading", 0)
    out.append(
        Check(
            "Loading country vs origin",
            loading or "n/a",
            origin or "n/a",
            "differ" if loading and origin and loading != origin else "same",
            bool(loading and origin and loading != origin),
        )
    )
    return out


def _filing_checks(ctx: ExplainContext) -> list[Check]:
    if ctx.s("filing", 0) is None:
        return [
            Check(
                "Entry summary declaration (ENS)", "none filed before the declaration", "", "", True
            )
        ]
    out = []
    lead = ctx.feature("lead_time_h", 0)
    out.append(
        Check(
            "ENS filed before the declaration",
            fmt.hours(lead),
            "",
            "",
            fmt.finite(lead) and lead < 1,
        )
    )
    gap = ctx.feature("arrival_gap_h", 0)
    if fmt.finite(gap):
        when = f"{fmt.hours(gap)} {'after' if gap >= 0 else 'before'} lodging"
        out.append(Check("Expected arrival", when, "", ""))
    amend, dup = ctx.feature("amendments", 0), ctx.feature("duplicates", 0)
    pre = ctx.feature("pre_loading", 0)
    out.append(
        Check(
            "ENS versions",
            f"{fmt.plural(amend, 'amendment')}" + ("; pre-loading filed" if pre > 0 else ""),
            "",
            f"{fmt.plural(dup, 'duplicate')}" if fmt.finite(dup) else "",
            dup > 0,
        )
    )
    items = (ctx.s("items_hs6", 0) or "").replace("|", ", ")
    hs6 = ctx.s("hs6", 0)
    if items:
        mismatch = ctx.feature("ens_hs6_mismatch", 0) > 0
        out.append(
            Check(
                "Declared HS6 vs ENS goods",
                hs6 or "n/a",
                items,
                "mismatch" if mismatch else "match",
                mismatch,
            )
        )
    gross, net = ctx.x("gross_mass", 0), ctx.x("mass", 0)
    if fmt.finite(gross) and fmt.finite(net) and net > 0:
        ratio = gross / net
        out.append(
            Check(
                "Net mass vs ENS gross mass",
                f"{fmt.number(net)} kg",
                f"{fmt.number(gross)} kg",
                f"gross = {fmt.number(ratio, 3)} × net",
                ratio > 3 or ratio < 1,
            )
        )
    return out


def baseline_checks(ctx: ExplainContext) -> list[Check]:
    """Every row of the declaration-vs-baselines table."""
    value = ctx.x("value", 0)
    mass = ctx.x("mass", 0)
    rows = [Check("Customs value / net mass", f"{fmt.eur(value)} / {fmt.number(mass)} kg", "", "")]
    rows += _unit_checks(ctx, "kg", ("hs6_origin", "hs6", "hs4", "importer_hs6"))
    if fmt.finite(ctx.x("uv_unit", 0)):
        rows += _unit_checks(ctx, "unit", ("hs6",))
    rows += _duty_checks(ctx)
    rows += _route_checks(ctx)
    rows += _filing_checks(ctx)
    return rows


def checks_table(rows: list[Check]) -> str:
    """The baselines table."""
    head = tag(
        "tr",
        [
            tag("th", h)
            for h in ("Check", "This declaration", "Baseline (as of its date)", "Difference")
        ],
    )
    body = [
        tag(
            "tr",
            [
                tag("td", esc(r.check)),
                tag("td", esc(r.declared), class_="num"),
                tag("td", esc(r.baseline), class_="num"),
                tag("td", esc(r.difference), class_="num"),
            ],
            class_="flag" if r.flag else None,
        )
        for r in rows
    ]
    return tag("table", [tag("thead", head), tag("tbody", body)], class_="grid checks")


def parties_table(ctx: ExplainContext) -> str:
    """The declaration's parties: AEO, activity, control record, network distance."""
    head = tag(
        "tr",
        [
            tag("th", h)
            for h in (
                "Role",
                "Party",
                "AEO",
                "First seen",
                "Declarations 30 d / 365 d",
                "Controls",
                "Irregularities",
                "Smoothed hit rate",
                "Steps to an offender",
            )
        ],
    )
    rows = []
    for role in ("importer", "declarant", "seller", "carrier"):
        pid = ctx.s(role, 0)
        if pid is None and role == "carrier":
            continue
        f = ctx.feature
        since = f(f"{role}__days_since_first", 0)
        aeo = ctx.x(f"{role}_aeo", 0)
        dist = f(f"graph__{role}__offender_distance", 0)
        cells = [
            role,
            pid or "not declared",
            "" if not fmt.finite(aeo) else ("yes" if aeo > 0 else "no"),
            "never" if not fmt.finite(since) or since < 0 else f"{fmt.days(since)} ago",
            f"{fmt.count(f(f'{role}__n30d', 0))} / {fmt.count(f(f'{role}__n365d', 0))}",
            fmt.count(f(f"{role}__controls", 0)),
            fmt.count(f(f"{role}__hits", 0)),
            fmt.pct(f(f"{role}__hit_rate", 0)),
            ""
            if not fmt.finite(dist)
            else (f"more than {ctx.max_distance}" if dist > ctx.max_distance else fmt.count(dist)),
        ]
        hits = f(f"{role}__hits", 0)
        rows.append(
            tag(
                "tr",
                [tag("td", esc(c), class_=None if j < 2 else "num") for j, c in enumerate(cells)],
                class_="flag" if fmt.finite(hits) and hits > 0 else None,
            )
        )
    return tag("table", [tag("thead", head), tag("tbody", rows)], class_="grid parties")


PREFERRED = (
    "declaration_id",
    "lodged_at",
    "office",
    "procedure",
    "importer_id",
    "declarant_id",
    "seller_id",
    "seller_country",
    "buyer_id",
    "origin_country",
    "dispatch_country",
    "hs_code",
    "description",
    "net_mass_kg",
    "supplementary_units",
    "customs_value",
    "currency",
    "customs_value_rc",
    "duty_rate",
    "duty_amount",
    "preference",
    "transport_mode",
    "importer_aeo",
    "declarant_aeo",
    "ens_id",
)


TIME_FIELDS = ("lodged_at", "filed_at", "expected_arrival", "controlled_at")


def _cell(value: Any, key: str = "") -> str:
    """A raw field as shown: timestamps in UTC minutes, booleans as yes/no, NaN as blank."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in TIME_FIELDS:
        return fmt.when(value)
    return str(value)


def declaration_table(declaration: dict[str, Any]) -> str:
    """All scalar fields of the declaration (preferred order first), in two side-by-side
    field lists."""
    keys = [k for k in PREFERRED if k in declaration]
    keys += sorted(k for k in declaration if k not in PREFERRED and k != "ens")
    rows = [
        tag("tr", [tag("th", esc(k.replace("_", " "))), tag("td", esc(_cell(declaration[k], k)))])
        for k in keys
        if not isinstance(declaration[k], (dict, list))
    ]
    half = (len(rows) + 1) // 2
    halves = [
        tag("table", tag("tbody", part), class_="fields") for part in (rows[:half], rows[half:])
    ]
    return tag("div", halves, class_="two")


ENS_COLUMNS = (
    "version",
    "filing_type",
    "filed_at",
    "carrier_id",
    "consignor_id",
    "consignee_id",
    "itinerary",
    "place_of_loading",
    "expected_arrival",
)
ITEM_COLUMNS = (
    "version",
    "item_no",
    "hs6",
    "description",
    "gross_mass_kg",
    "packages",
    "containerised",
)


def _list_table(rows: list[Any], columns: tuple[str, ...]) -> str:
    dicts = [r for r in rows if isinstance(r, dict)]
    cols = [c for c in columns if any(c in r for r in dicts)]
    head = tag("tr", [tag("th", esc(c.replace("_", " "))) for c in cols])
    body = [tag("tr", [tag("td", esc(_cell(r.get(c), c))) for c in cols]) for r in dicts]
    return tag("table", [tag("thead", head), tag("tbody", body)], class_="grid small")


def ens_tables(declaration: dict[str, Any]) -> str:
    """The embedded ENS: its versions and goods items; empty when none."""
    ens = declaration.get("ens")
    if not isinstance(ens, dict):
        return ""
    versions, items = ens.get("versions") or [], ens.get("items") or []
    parts = []
    if versions:
        parts.append(tag("h3", "Versions") + _list_table(versions, ENS_COLUMNS))
    if items:
        parts.append(tag("h3", "Goods items") + _list_table(items, ITEM_COLUMNS))
    return "".join(parts)
