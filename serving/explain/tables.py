"""The page's tables: the declaration against its baselines, its parties, its raw fields.

Every number comes from the explanation context (the fitted state as of the
declaration's time) or the declaration itself. These functions return rows of plain
texts; ``templates/page.html`` lays them out (and escapes every cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from serving.explain import fmt
from serving.explain.context import ExplainContext
from serving.explain.texts import AGE_CAP_DAYS, compare, kind_label


@dataclass(frozen=True)
class Check:
    """One row of the baselines table; ``flag`` marks what stands out."""

    check: str
    declared: str
    baseline: str
    difference: str
    flag: bool = False

    @property
    def cells(self) -> list[str]:
        return [self.check, self.declared, self.baseline, self.difference]


@dataclass(frozen=True)
class Row:
    """A table row's cells and whether it is highlighted."""

    cells: list[str]
    flag: bool = False


ENS_NOT_SENT = "ENS referenced but not sent: ENS features unknown, not evidence"


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


def _filing_checks(ctx: ExplainContext, ens_status: str | None = None) -> list[Check]:
    if ens_status == "not_sent":
        return [Check("Entry summary declaration (ENS)", ENS_NOT_SENT, "", "")]
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


def baseline_checks(ctx: ExplainContext, ens_status: str | None = None) -> list[Check]:
    """Every row of the declaration-vs-baselines table (``ens_status``: ``filed``,
    ``not_filed`` or ``not_sent``; an ENS not sent is shown as unknown, not as missing)."""
    value = ctx.x("value", 0)
    mass = ctx.x("mass", 0)
    rows = [Check("Customs value / net mass", f"{fmt.eur(value)} / {fmt.number(mass)} kg", "", "")]
    rows += _unit_checks(ctx, "kg", ("hs6_origin", "hs6", "hs4", "importer_hs6"))
    if fmt.finite(ctx.x("uv_unit", 0)):
        rows += _unit_checks(ctx, "unit", ("hs6",))
    rows += _duty_checks(ctx)
    rows += _route_checks(ctx)
    rows += _filing_checks(ctx, ens_status)
    return rows


def party_rows(ctx: ExplainContext) -> list[Row]:
    """The declaration's parties: AEO, activity, control record, network distance."""
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
            "never"
            if not fmt.finite(since) or since < 0
            else f"{'at least ' if since >= AGE_CAP_DAYS else ''}{fmt.days(since)} ago",
            f"{fmt.count(f(f'{role}__n30d', 0))} / {fmt.count(f(f'{role}__n365d', 0))}",
            fmt.count(f(f"{role}__controls", 0)),
            fmt.count(f(f"{role}__hits", 0)),
            fmt.pct(f(f"{role}__hit_rate", 0)),
            ""
            if not fmt.finite(dist)
            else (f"more than {ctx.max_distance}" if dist > ctx.max_distance else fmt.count(dist)),
        ]
        hits = f(f"{role}__hits", 0)
        rows.append(Row(cells, bool(fmt.finite(hits) and hits > 0)))
    return rows


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


def declaration_fields(declaration: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """All scalar fields of the declaration (preferred order first) as (label, value),
    in two halves shown side by side."""
    keys = [k for k in PREFERRED if k in declaration]
    keys += sorted(k for k in declaration if k not in PREFERRED and k != "ens")
    rows = [
        (k.replace("_", " "), _cell(declaration[k], k))
        for k in keys
        if not isinstance(declaration[k], (dict, list))
    ]
    half = (len(rows) + 1) // 2
    return [rows[:half], rows[half:]]


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


@dataclass(frozen=True)
class Table:
    """A titled table: column headers and rows of cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def _list_table(title: str, rows: list[Any], columns: tuple[str, ...]) -> Table:
    dicts = [r for r in rows if isinstance(r, dict)]
    cols = [c for c in columns if any(c in r for r in dicts)]
    return Table(
        title,
        [c.replace("_", " ") for c in cols],
        [[_cell(r.get(c), c) for c in cols] for r in dicts],
    )


def ens_tables(declaration: dict[str, Any]) -> list[Table]:
    """The embedded ENS: its versions and goods items; empty when none."""
    ens = declaration.get("ens")
    if not isinstance(ens, dict):
        return []
    versions, items = ens.get("versions") or [], ens.get("items") or []
    out = []
    if versions:
        out.append(_list_table("Versions", versions, ENS_COLUMNS))
    if items:
        out.append(_list_table("Goods items", items, ITEM_COLUMNS))
    return out
