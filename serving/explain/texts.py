"""Officer texts of single features, with the numbers behind them.

``describe(feature, ctx, i)`` says in plain words what feature ``feature`` of row ``i``
stands for, against its baseline when it has one: "declared value per kg (EUR 1.20/kg)
is 72% below the median for HS 611020 from CN (EUR 4.30/kg, 1,240 declarations)".
It returns a ``Phrase`` (text, value, baseline), or None when nothing specific can be
said (unknown feature, missing input): callers then use the generic reason text.

``value`` and ``baseline`` are in the units the text uses (EUR per kg, a rate as a
fraction, days, counts); ``baseline`` is None when the feature has none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from features.profiles import ProfileConfig
from serving.explain import fmt
from serving.explain.context import KG_KINDS, ExplainContext


@dataclass(frozen=True)
class Phrase:
    """A text and the two numbers it is about."""

    text: str
    value: float | None = None
    baseline: float | None = None


Handler = Callable[[ExplainContext, int, re.Match[str]], Phrase | None]
_HANDLERS: list[tuple[re.Pattern[str], Handler]] = []


def _rule(pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS.append((re.compile(pattern), fn))
        return fn

    return register


def _num(value: float | None) -> float | None:
    """A JSON-safe float: None for NaN/inf."""
    return float(value) if fmt.finite(value) else None


def _id(ctx: ExplainContext, name: str, i: int, prefix: str) -> str:
    value = ctx.s(name, i)
    return f"{prefix} {value}" if value else f"the {prefix}"


# ----- entity nouns --------------------------------------------------------------------
# key: (template, row fields filling it, fallback when a field is missing)
NOUNS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "importer": ("importer {0}", ("importer",), "the importer"),
    "declarant": ("declarant {0}", ("declarant",), "the declarant"),
    "seller": ("seller {0}", ("seller",), "the seller"),
    "carrier": ("carrier {0}", ("carrier",), "the carrier"),
    "office": ("office {0}", ("office",), "the office"),
    "origin": ("goods from {0}", ("origin",), "goods of this origin"),
    "hs2": ("HS chapter {0}", ("hs2",), "this HS chapter"),
    "hs4": ("HS heading {0}", ("hs4",), "this HS heading"),
    "hs6": ("HS {0}", ("hs6",), "this HS code"),
    "hs6_origin": ("HS {0} from {1}", ("hs6", "origin"), "this product and origin"),
    "importer_declarant": ("this importer with this declarant", (), ""),
    "importer_seller": ("this importer with this seller", (), ""),
    "route": ("route {0}", ("route",), "this route"),
}


def noun(ctx: ExplainContext, key: str, i: int) -> str:
    """How a profile key reads in a sentence for row ``i``: "importer P0001", "HS 611020"."""
    if key.startswith("extra_cat__"):
        label = key.removeprefix("extra_cat__").replace("_", " ")
        value = ctx.s(key, i)
        return f"{label} {value}" if value else label
    template, fields, fallback = NOUNS.get(key, (key.replace("_", " "), (), ""))
    values = [ctx.s(f, i) for f in fields]
    return fallback if any(v is None for v in values) else template.format(*values)


# ----- profiles: activity and control history -------------------------------------------
PROFILE = (
    r"^(importer_declarant|importer_seller|hs6_origin|importer|declarant|seller|carrier"
    r"|office|origin|hs2|hs4|hs6|route|extra_cat__\w+?)__"
)


def control_history(ctx: ExplainContext, key: str, i: int) -> Phrase:
    """ "declarations of importer X had 3 irregularities in 12 controls (smoothed rate 14% vs
    2% overall)"."""
    controls = ctx.feature(f"{key}__controls", i)
    hits = ctx.feature(f"{key}__hits", i)
    rate = ctx.feature(f"{key}__hit_rate", i)
    overall = ctx.x("global_rate", i)
    year = " in the last 365 days"
    vs = f" vs {fmt.pct(overall)} overall" if fmt.finite(overall) else ""
    who = ("on " if key == "route" else "of ") + noun(ctx, key, i)
    if not fmt.finite(controls) or controls <= 0:
        text = f"declarations {who} were not controlled{year} (prior rate {fmt.pct(rate)}{vs})"
    else:
        text = (
            f"declarations {who} had {fmt.plural(hits, 'irregularity', 'irregularities')}"
            f" in {fmt.plural(controls, 'control')}{year} (smoothed rate {fmt.pct(rate)}{vs})"
        )
    return Phrase(text, _num(rate), _num(overall))


@_rule(PROFILE + r"(controls|hits|hit_rate|hit_rate_window)$")
def _controls(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    return control_history(ctx, m.group(1), i)


@_rule(PROFILE + r"log_revenue$")
def _revenue(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key = m.group(1)
    revenue = math.expm1(ctx.feature(f"{key}__log_revenue", i))
    hits = ctx.feature(f"{key}__hits", i)
    controls = ctx.feature(f"{key}__controls", i)
    text = (
        f"controls of {noun(ctx, key, i)} in the last 365 days recovered {fmt.eur(revenue)}"
        f" ({fmt.plural(hits, 'irregularity', 'irregularities')}"
        f" in {fmt.plural(controls, 'control')})"
    )
    return Phrase(text, _num(revenue), None)


@_rule(PROFILE + r"n(\d+)d$")
def _activity(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key, window = m.group(1), int(m.group(2))
    n = ctx.feature(m.group(0), i)
    year = ctx.feature(f"{key}__n365d", i)
    if not n > 0:
        return Phrase(
            f"no earlier declaration of {noun(ctx, key, i)} in the last {window} days", 0.0
        )
    extra = (
        f" ({fmt.count(year)} in the last 365 days)" if window != 365 and fmt.finite(year) else ""
    )
    text = f"{noun(ctx, key, i)}: {fmt.plural(n, 'declaration')} in the last {window} days{extra}"
    return Phrase(text, _num(n), None)


@_rule(r"^(extra_cat__\w+?)__is_(\w+)$")
def _category(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    """ "channel: red" for an extra attribute's indicator (its actual value either way)."""
    attribute, shown = m.group(1), m.group(2)
    label = attribute.removeprefix("extra_cat__").replace("_", " ")
    flag = ctx.feature(m.group(0), i)
    value = ctx.s(attribute, i)
    if fmt.finite(flag) and flag > 0:
        return Phrase(f"{label}: {value or shown}", _num(flag), None)
    return Phrase(f"{label}: {value or 'not given'} (not {shown})", _num(flag), None)


AGE_CAP_DAYS = ProfileConfig().age_cap_days  # days since first seen stop growing here


@_rule(PROFILE + r"days_since_first$")
def _first_seen(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key = m.group(1)
    d = ctx.feature(m.group(0), i)
    pair = key in ("importer_declarant", "importer_seller")
    if not fmt.finite(d) or d < 0:
        text = (
            f"first declaration of {noun(ctx, key, i)}"
            if pair
            else f"{noun(ctx, key, i)} never seen before"
        )
        return Phrase(text, None, None)
    verb = "first declared together" if pair else "first seen"
    ago = f"{fmt.days(d)} ago" if d < AGE_CAP_DAYS else f"at least {fmt.days(d)} ago"
    return Phrase(f"{noun(ctx, key, i)} {verb} {ago}", _num(d), None)


@_rule(PROFILE + r"seen_before_history$")
def _seen_before(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key = m.group(1)
    flag = ctx.feature(m.group(0), i)
    if fmt.finite(flag) and flag > 0:
        text = f"{noun(ctx, key, i)} was already active when the history began"
    else:
        text = f"{noun(ctx, key, i)} first appeared after the history began"
    return Phrase(text, _num(flag), None)


@_rule(PROFILE + r"log_value_365d$")
def _value_365(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key = m.group(1)
    value = math.expm1(ctx.feature(m.group(0), i))
    n = ctx.feature(f"{key}__n365d", i)
    if not n > 0:
        return Phrase(f"no earlier declaration of {noun(ctx, key, i)} in the last 365 days", 0.0)
    text = (
        f"{noun(ctx, key, i)}: {fmt.eur(value)} declared in the last 365 days"
        f" ({fmt.plural(n, 'declaration')})"
    )
    return Phrase(text, _num(value), None)


PARTNER_TEXT = {
    ("importer", "sellers"): "bought from {n} different sellers",
    ("importer", "declarants"): "used {n} different declarants",
    ("declarant", "importers"): "lodged for {n} different importers",
    ("seller", "importers"): "sold to {n} different importers",
}


@_rule(PROFILE + r"partners_(\w+)$")
def _partners(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    key, label = m.group(1), m.group(2)
    n = ctx.feature(m.group(0), i)
    template = PARTNER_TEXT.get((key, label), "{n} distinct " + label)
    text = f"{noun(ctx, key, i)} {template.format(n=fmt.count(n))} in the last 365 days"
    return Phrase(text, _num(n), None)


# ----- valuation ---------------------------------------------------------------------------
def kind_label(ctx: ExplainContext, kind: str, i: int) -> str:
    """The comparison group of a baseline: "for HS 611020 from CN", "for HS heading 6110"."""
    hs6 = ctx.s("hs6", i) or "this code"
    if kind == "hs6_origin":
        origin = ctx.s("origin", i)
        return f"for HS {hs6} from {origin}" if origin else f"for HS {hs6} from this origin"
    if kind == "hs6":
        return f"for HS {hs6}"
    if kind == "hs4":
        return f"for HS heading {ctx.s('hs4', i) or 'of this code'}"
    return f"of this importer's earlier declarations of HS {hs6}"


def _kind_rows(ctx: ExplainContext, kind: str, i: int, n: float) -> str:
    """ "18 earlier declarations for HS 611020 from CN", "no earlier declaration by ..."."""
    if kind == "importer_hs6":
        hs6 = ctx.s("hs6", i) or "this code"
        scope = f"by this importer of HS {hs6}"
    else:
        scope = kind_label(ctx, kind, i)
    if not n > 0:
        return f"no earlier declaration {scope}"
    return f"{fmt.plural(n, 'earlier declaration')} {scope}"


def compare(declared: float, median: float) -> str:
    """ "72% below the median", "3.4 times the median", "at the median"."""
    ratio = declared / median
    if ratio >= 3:
        return f"{fmt.number(ratio, 2)} times the median"
    change = ratio - 1.0
    if abs(change) < 0.005:
        return "at the median"
    return f"{fmt.pct(abs(change))} {'below' if change < 0 else 'above'} the median"


def unit_value(ctx: ExplainContext, i: int, per: str, kind: str) -> Phrase | None:
    """Declared value per kg (``per="kg"``) or per unit against one baseline kind."""
    declared = ctx.x("uv_kg" if per == "kg" else "uv_unit", i)
    median, n = ctx.baseline(f"{per}_{kind}", i)
    label = kind_label(ctx, kind, i)
    what = "declared value per kg" if per == "kg" else "declared value per unit"
    if not fmt.finite(declared):
        missing = "net mass" if per == "kg" else "supplementary units"
        return Phrase(f"{what} unknown: no {missing} declared")
    if n < ctx.min_count or not fmt.finite(median) or median <= 0:
        text = (
            f"{what} is {fmt.eur_per(declared, per)}; too few earlier declarations {label}"
            f" for a baseline ({fmt.count(n)}, at least {ctx.min_count} needed)"
        )
        return Phrase(text, _num(declared), None)
    text = (
        f"{what} ({fmt.eur_per(declared, per)}) is {compare(declared, median)} {label}"
        f" ({fmt.eur_per(median, per)}, {fmt.plural(n, 'declaration')})"
    )
    return Phrase(text, _num(declared), _num(median))


def best_kind(ctx: ExplainContext, i: int) -> str:
    """The most specific known per-kg baseline: HS6 x origin, else HS6, else HS4."""
    for kind in KG_KINDS[:3]:
        median, n = ctx.baseline(f"kg_{kind}", i)
        if n >= ctx.min_count and fmt.finite(median):
            return kind
    return "hs6_origin"


@_rule(r"^uv_kg_z__(\w+)$")
def _uv_kg(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    return unit_value(ctx, i, "kg", m.group(1))


@_rule(r"^log_value_per_kg$")
def _uv_kg_level(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    return unit_value(ctx, i, "kg", best_kind(ctx, i))


@_rule(r"^(uv_unit_z__hs6|log_value_per_unit)$")
def _uv_unit(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    return unit_value(ctx, i, "unit", "hs6")


@_rule(r"^uv_(kg|unit)_n__(\w+)$")
def _base_size(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    per, kind = m.group(1), m.group(2)
    _, n = ctx.baseline(f"{per}_{kind}", i)
    rows = _kind_rows(ctx, kind, i, n)
    if n >= ctx.min_count:
        rows = ("only " if n < 30 else "") + rows
    return Phrase(f"{rows} to compare the declared value with", _num(n), None)


@_rule(r"^log_value$")
def _value(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    value = ctx.x("value", i)
    return Phrase(f"declared customs value {fmt.eur(value)}", _num(value), None)


@_rule(r"^log_mass$")
def _mass(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    mass = ctx.x("mass", i)
    if not fmt.finite(mass):
        return Phrase("no net mass declared")
    return Phrase(f"net mass {fmt.number(mass)} kg", _num(mass), None)


# ----- classification ------------------------------------------------------------------
@_rule(r"^duty_spread_hs4$")
def _duty_spread(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    duty, top = ctx.x("duty", i), ctx.x("hs4_max_duty", i)
    hs4 = ctx.s("hs4", i) or "of this code"
    if not fmt.finite(duty) or not fmt.finite(top):
        return None
    spread = top - duty
    if spread <= 0.0005:
        text = f"declared HS code carries the highest duty in heading {hs4} ({fmt.pct(duty)})"
    else:
        text = (
            f"declared HS code duty ({fmt.pct(duty)}) is {fmt.points(spread)} below the"
            f" highest duty in heading {hs4} ({fmt.pct(top)})"
        )
    return Phrase(text, _num(duty), _num(top))


@_rule(r"^duty_vs_hs6$")
def _duty_vs(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    duty = ctx.x("duty", i)
    median, n = ctx.baseline("duty_hs6", i)
    hs6 = ctx.s("hs6", i) or "this code"
    if not fmt.finite(duty) or not fmt.finite(median) or n <= 0:
        return None
    text = f"declared duty rate {fmt.pct(duty)} vs {fmt.pct(median)} usually declared for HS {hs6}"
    return Phrase(text, _num(duty), _num(median))


@_rule(r"^duty_rate$")
def _duty(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    duty = ctx.x("duty", i)
    return None if not fmt.finite(duty) else Phrase(f"duty rate {fmt.pct(duty)}", duty, None)


@_rule(r"^preference_claimed$")
def _preference(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if ctx.feature(m.group(0), i) > 0:
        code = ctx.s("preference", i)
        return Phrase(f"tariff preference claimed (code {code})", 1.0, None)
    return Phrase("no tariff preference claimed", 0.0, None)


@_rule(r"^ens_hs6_mismatch$")
def _ens_hs6(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    hs6 = ctx.s("hs6", i) or "code"
    items = (ctx.s("items_hs6", i) or "").replace("|", ", ")
    if ctx.feature(m.group(0), i) > 0:
        return Phrase(f"declared HS {hs6} differs from the ENS goods (HS {items})", 1.0, None)
    if not items:
        return Phrase("no goods items in a linked ENS to check the HS code against", 0.0, None)
    return Phrase(f"declared HS {hs6} matches the ENS goods", 0.0, None)


# ----- origin and route ------------------------------------------------------------------
@_rule(r"^route_rarity$")
def _route_rarity(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    route, hs2 = ctx.s("route", i), ctx.s("hs2", i)
    if route is None:
        return Phrase("no ENS route known for this declaration")
    pair, chapter = ctx.x("route_count", i), ctx.x("chapter_count", i)
    if not fmt.finite(pair) or not fmt.finite(chapter):
        share = math.exp(-ctx.feature(m.group(0), i))
        return Phrase(f"route {route} is rare for HS chapter {hs2}", _num(share), None)
    share = (pair + 1.0) / (chapter + 1.0)
    word = "rare" if share < 0.05 else "uncommon" if share < 0.25 else "common"
    text = (
        f"route {route} is {word} for HS chapter {hs2}"
        f" ({fmt.share(pair, chapter)} earlier declarations of the chapter)"
    )
    return Phrase(text, _num(pair), _num(chapter))


@_rule(r"^n_transit$")
def _transit(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    route = ctx.s("route", i)
    if route is None:
        return Phrase("no ENS route known for this declaration")
    via = route.split("-")[1:-1]
    if not via:
        return Phrase(f"direct route {route}", 0.0, None)
    countries = fmt.plural(len(via), "transit country", "transit countries")
    text = f"route {route} passes through {countries} ({', '.join(via)})"
    return Phrase(text, float(len(via)), None)


@_rule(r"^loading_differs_origin$")
def _loading(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    loading, origin = ctx.s("loading", i), ctx.s("origin", i)
    if loading is None:
        return Phrase("no ENS route known for this declaration")
    if ctx.feature(m.group(0), i) > 0:
        return Phrase(f"goods loaded in {loading}, declared origin {origin}", 1.0, None)
    return Phrase(f"goods loaded in the origin country {origin}", 0.0, None)


@_rule(r"^origin_in_itinerary$")
def _origin_on_route(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    route, origin = ctx.s("route", i), ctx.s("origin", i)
    if route is None:
        return Phrase("no ENS route known for this declaration")
    on = ctx.feature(m.group(0), i) > 0
    return Phrase(f"origin {origin} is {'' if on else 'not '}on the route {route}", float(on), None)


@_rule(r"^dispatch_differs_origin$")
def _dispatch(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    dispatch, origin = ctx.s("dispatch", i), ctx.s("origin", i)
    if ctx.feature(m.group(0), i) > 0:
        return Phrase(f"dispatched from {dispatch}, declared origin {origin}", 1.0, None)
    if dispatch is None:
        return Phrase("no dispatch country declared", 0.0, None)
    return Phrase(f"dispatched from the origin country {origin}", 0.0, None)


@_rule(r"^mode__(\w+)$")
def _mode(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    mode = ctx.s("mode", i)
    return None if mode is None else Phrase(f"transport mode: {mode}", None, None)


# ----- filing ----------------------------------------------------------------------------
def _no_ens(ctx: ExplainContext, i: int) -> bool:
    return ctx.feature("ens_present", i) == 0 or ctx.s("filing", i) is None


@_rule(r"^ens_present$")
def _ens_present(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if ctx.feature(m.group(0), i) > 0:
        return Phrase(
            f"entry summary declaration {ctx.s('filing', i) or ''} linked".replace("  ", " "), 1.0
        )
    return Phrase("no entry summary declaration (ENS) filed before the declaration", 0.0)


@_rule(r"^lead_time_h$")
def _lead_time(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if _no_ens(ctx, i):
        return Phrase("no entry summary declaration (ENS) filed before the declaration")
    h = ctx.feature(m.group(0), i)
    return Phrase(f"ENS first filed {fmt.hours(h)} before the declaration", _num(h))


@_rule(r"^arrival_gap_h$")
def _arrival(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if _no_ens(ctx, i):
        return Phrase("no entry summary declaration (ENS) filed before the declaration")
    h = ctx.feature(m.group(0), i)
    if h >= 0:
        return Phrase(f"goods expected {fmt.hours(h)} after the declaration was lodged", _num(h))
    return Phrase(f"declaration lodged {fmt.hours(h)} after the expected arrival", _num(h))


@_rule(r"^pre_loading$")
def _pre_loading(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if ctx.feature(m.group(0), i) > 0:
        return Phrase("pre-loading ENS data (PLACI) filed", 1.0)
    return Phrase("no pre-loading ENS filing", 0.0)


@_rule(r"^amendments$")
def _amendments(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    n = ctx.feature(m.group(0), i)
    if _no_ens(ctx, i):
        return Phrase("no entry summary declaration (ENS) filed before the declaration")
    return Phrase(f"ENS amended {fmt.plural(n, 'time')}" if n > 0 else "ENS never amended", _num(n))


@_rule(r"^duplicates$")
def _duplicates(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    n = ctx.feature(m.group(0), i)
    if n <= 0:
        return Phrase("no duplicate ENS filing", 0.0)
    text = (
        f"{fmt.plural(n, 'other ENS filing')} with the same parties, route and arrival"
        " (possible duplicates)"
    )
    return Phrase(text, _num(n))


@_rule(r"^log_gross_net_ratio$")
def _gross_net(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    gross, net = ctx.x("gross_mass", i), ctx.x("mass", i)
    if not fmt.finite(gross) or not fmt.finite(net) or net <= 0:
        return None
    ratio = gross / net
    text = (
        f"ENS gross mass ({fmt.number(gross)} kg) is {fmt.number(ratio, 2)} times"
        f" the declared net mass ({fmt.number(net)} kg)"
    )
    return Phrase(text, _num(gross), _num(net))


@_rule(r"^containerised$")
def _container(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    if ctx.feature(m.group(0), i) > 0:
        return Phrase("goods shipped in a container", 1.0)
    return Phrase("goods not containerised", 0.0)


# ----- network ----------------------------------------------------------------------------
def _party(ctx: ExplainContext, role: str, i: int) -> str:
    return _id(ctx, role, i, role)


def _rate_text(ctx: ExplainContext, i: int, what: str, rate: float) -> Phrase:
    overall = ctx.x("graph_global_rate", i)
    vs = f" (vs {fmt.pct(overall)} overall)" if fmt.finite(overall) else ""
    return Phrase(
        f"{what}: {fmt.pct(rate)} irregularity rate in past controls{vs}", _num(rate), _num(overall)
    )


@_rule(r"^graph__(\w+?)__offender_distance$")
def _distance(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role = m.group(1)
    d = ctx.feature(m.group(0), i)
    who = _party(ctx, role, i)
    if not fmt.finite(d):
        return None
    if d <= 0:
        return Phrase(f"{who} has past irregularities", 0.0)
    if d > ctx.max_distance:
        return Phrase(
            f"no party with past irregularities within {ctx.max_distance} steps of {who}", _num(d)
        )
    if d == 1:
        return Phrase(f"{who} directly linked to a party with past irregularities", 1.0)
    return Phrase(
        f"{who} linked within {fmt.count(d)} steps to a party with past irregularities", _num(d)
    )


@_rule(r"^graph__(\w+?)__hit_rate_1hop$")
def _hop1(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    who = _party(ctx, m.group(1), i)
    return _rate_text(ctx, i, f"direct trading partners of {who}", ctx.feature(m.group(0), i))


@_rule(r"^graph__(\w+?)__hit_rate_2hop$")
def _hop2(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    who = _party(ctx, m.group(1), i)
    return _rate_text(ctx, i, f"parties two steps from {who}", ctx.feature(m.group(0), i))


def _unlinked(ctx: ExplainContext, role: str, i: int) -> Phrase:
    if role == "carrier" and ctx.s("carrier", i) is None:
        return Phrase("no carrier known (no ENS linked)", 0.0)
    return Phrase(f"{_party(ctx, role, i)} not yet linked to other parties in the network", 0.0)


@_rule(r"^graph__(\w+?)__(component|community)_hit_rate$")
def _group_rate(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role, kind = m.group(1), m.group(2)
    size = math.expm1(ctx.feature(f"graph__{role}__{kind}_size", i))
    who = _party(ctx, role, i)
    if not size >= 2:
        return _rate_text(
            ctx, i, f"{who} (no linked parties: the overall rate)", ctx.feature(m.group(0), i)
        )
    what = (
        f"linked network of {who} ({fmt.plural(size, 'party', 'parties')})"
        if kind == "component"
        else f"trading community of {who} ({fmt.plural(size, 'party', 'parties')})"
    )
    return _rate_text(ctx, i, what, ctx.feature(m.group(0), i))


@_rule(r"^graph__(\w+?)__(component|community)_size$")
def _group_size(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role = m.group(1)
    size = math.expm1(ctx.feature(m.group(0), i))
    if not size >= 2:
        return _unlinked(ctx, role, i)
    what = "a linked network" if m.group(2) == "component" else "a trading community"
    text = f"{_party(ctx, role, i)} belongs to {what} of {fmt.plural(size, 'party', 'parties')}"
    return Phrase(text, _num(size))


@_rule(r"^graph__(\w+?)__degree$")
def _degree(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role = m.group(1)
    n = ctx.feature(m.group(0), i)
    if not n > 0:
        return _unlinked(ctx, role, i)
    who = _party(ctx, role, i)
    return Phrase(f"{who} linked to {fmt.plural(n, 'other party', 'other parties')}", _num(n))


@_rule(r"^graph__(\w+?)__weighted_degree$")
def _weighted(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role = m.group(1)
    n = math.expm1(ctx.feature(m.group(0), i))
    if not n > 0.5:
        return _unlinked(ctx, role, i)
    who = _party(ctx, role, i)
    return Phrase(f"{who} linked to other parties by {fmt.plural(n, 'declaration')}", _num(n))


@_rule(r"^graph__(\w+?)__ppr$")
def _ppr(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    closeness = math.expm1(ctx.feature(m.group(0), i))
    who = _party(ctx, m.group(1), i)
    if not closeness >= 0.01:
        return Phrase(f"{who} not reachable from past offenders in the party network", 0.0, 1.0)
    text = (
        f"network proximity of {who} to past offenders is"
        f" {fmt.number(closeness, 2)} times that of the average party"
    )
    return Phrase(text, _num(closeness), 1.0)


# ----- AEO and own attributes ----------------------------------------------------------
@_rule(r"^(importer|declarant|carrier)_aeo$")
def _aeo(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    role = m.group(1)
    if ctx.feature(m.group(0), i) > 0:
        return Phrase(f"AEO {role}", 1.0)
    if role == "carrier" and ctx.s("carrier", i) is None:
        return Phrase("no carrier known (no ENS)", 0.0)
    return Phrase(f"{role} is not an AEO", 0.0)


@_rule(r"^extra_num__(\w+)$")
def _extra_num(ctx: ExplainContext, i: int, m: re.Match[str]) -> Phrase | None:
    value = ctx.feature(m.group(0), i)
    return Phrase(f"{m.group(1).replace('_', ' ')} = {fmt.number(value)}", _num(value))


# ----- dispatch --------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def handler_for(feature: str) -> tuple[Handler, re.Match[str]] | None:
    """The text handler of a feature name and its match (first matching rule)."""
    for pattern, fn in _HANDLERS:
        match = pattern.search(feature)
        if match:
            return fn, match
    return None


def describe(feature: str, ctx: ExplainContext, i: int) -> Phrase | None:
    """The officer text of feature ``feature`` of row ``i``, or None (use the generic one).

    Without the rows' inputs (a batch scored from features only) every text is generic.
    Never raises: a handler that fails on odd inputs yields None.
    """
    found = handler_for(feature)
    if found is None or not ctx.has_inputs:
        return None
    fn, match = found
    try:
        return fn(ctx, i, match)
    except Exception:  # missing inputs, unseen codes, other state layouts: generic text
        return None
