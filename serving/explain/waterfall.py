"""The waterfall of one score: base log-odds, then reason groups, then the final log-odds.

TreeSHAP splits the tree model's log-odds exactly: base value (the average over the
training data) plus the contributions of every feature. Features are summed by reason
code (``models.reasons``); the largest groups by size get a bar each, the rest one
"other" bar, so the bars always add up to the final log-odds. Every bar carries its
value in ``data-value`` (``data-kind`` base / contribution / final) for checks.
``waterfall_view`` computes the chart's geometry; ``templates/waterfall.svg`` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.reasons import grouping
from serving.explain import fmt
from serving.explain.fmt import clip

SHORT_LABEL = {
    "VAL-UNIT": "Unit value",
    "VAL-BASE": "Size of the valuation baseline",
    "VAL-SIZE": "Consignment size",
    "CLS-DUTY": "Duty rate and classification",
    "CLS-HIST": "Commodity code history",
    "RTE-ORIGIN": "Origin vs route and dispatch",
    "RTE-RARE": "Route",
    "RTE-HIST": "Origin history",
    "RTE-MODE": "Transport mode",
    "FIL-ENS": "ENS filing",
    "NET-LINK": "Party network",
    "OPR-IMP": "Importer",
    "OPR-DEC": "Declarant",
    "OPR-SEL": "Seller",
    "OPR-CAR": "Carrier and office",
    "AEO": "AEO status",
    "EXT": "Own attributes",
    "OTH": "Other factors",
}
UP, DOWN, NEUTRAL, FINAL = "#c62828", "#1e6bb8", "#8a96a3", "#263445"


@dataclass(frozen=True)
class Step:
    """One bar: what it is, its value and where it starts and ends on the log-odds axis."""

    kind: str  # base | contribution | final
    code: str
    label: str
    detail: str
    hint: str
    value: float
    start: float
    end: float


def steps(
    contributions: np.ndarray,
    names: list[str],
    base: float,
    texts: dict[str, str] | None = None,
    top: int = 10,
) -> list[Step]:
    """Base, the ``top`` reason groups by absolute size (then "other"), final."""
    groups = grouping(tuple(names))
    contributions = np.asarray(contributions, dtype=np.float64)
    sums = contributions @ groups.member
    order = np.argsort(-np.abs(sums), kind="stable")
    shown = [g for g in order[:top] if sums[g] != 0]
    rest = [g for g in order if g not in set(shown) and sums[g] != 0]
    out = [
        Step(
            "base",
            "BASE",
            "Average declaration",
            "base value of the tree model",
            "",
            base,
            0.0,
            base,
        )
    ]
    level = base
    for g in shown:
        reason = groups.reasons[g]
        cols = groups.columns[g]
        strongest = cols[np.argmax(np.abs(contributions[cols]))]
        detail = f"strongest: {names[strongest]} ({fmt.log_odds(contributions[strongest])})"
        hint = (texts or {}).get(reason.code) or reason.text
        value = float(sums[g])
        out.append(
            Step(
                "contribution",
                reason.code,
                SHORT_LABEL.get(reason.code, reason.code),
                detail,
                hint,
                value,
                level,
                level + value,
            )
        )
        level += value
    if rest:
        value = float(sums[rest].sum())
        codes = ", ".join(groups.reasons[g].code for g in rest)
        out.append(
            Step(
                "contribution",
                "OTHER",
                f"{len(rest)} other reason groups",
                codes,
                f"smaller contributions: {codes}",
                value,
                level,
                level + value,
            )
        )
        level += value
    out.append(
        Step("final", "FINAL", "This declaration", "tree model log-odds", "", level, 0.0, level)
    )
    return out


def _ticks(lo: float, hi: float) -> list[float]:
    span = max(hi - lo, 1e-6)
    raw = span / 8
    step = min((s for s in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0) if s >= raw), default=10.0)
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step) + 1)]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def waterfall_view(bars: list[Step], width: int = 1100) -> dict[str, Any]:
    """The geometry of the horizontal waterfall (``templates/waterfall.svg`` draws it): one
    row per step, labelled, with connectors and a log-odds axis."""
    row, top, left, right = 34, 46, 360, 90
    height = top + row * len(bars) + 16
    values = [0.0] + [b.start for b in bars] + [b.end for b in bars]
    lo, hi = min(values), max(values)
    pad = 0.06 * max(hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    x0, x1 = left, width - right

    def sx(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    ticks = [{"x": sx(t), "label": f"{t:g}", "sub": fmt.pct(_sigmoid(t))} for t in _ticks(lo, hi)]
    shown_bars = []
    for k, bar in enumerate(bars):
        y = top + k * row
        a, b = sorted((sx(bar.start), sx(bar.end)))
        colour = (
            FINAL
            if bar.kind == "final"
            else NEUTRAL
            if bar.kind == "base"
            else UP
            if bar.value > 0
            else DOWN
        )
        shown = fmt.log_odds(bar.value) if bar.kind == "contribution" else f"{bar.value:.2f}"
        if bar.kind == "final":
            shown += f"  (p = {fmt.pct(_sigmoid(bar.value))})"
        detail = f"{bar.code} · {bar.detail}" if bar.kind == "contribution" else bar.detail
        link = None
        if k + 1 < len(bars) and bars[k + 1].kind == "contribution":
            link = {"x": sx(bar.end), "y1": float(y + 26), "y2": float(y + row + 6)}
        shown_bars.append(
            {
                "label": clip(bar.label, 44),
                "label_class": "label" + (" strong" if bar.kind != "contribution" else ""),
                "label_y": float(y + 14),
                "detail": clip(detail, 58),
                "detail_y": float(y + 27),
                "x": a,
                "y": float(y + 6),
                "width": max(b - a, 1.5),
                "colour": colour,
                "kind": bar.kind,
                "code": bar.code,
                "data_value": f"{bar.value:.6f}",
                "shown": shown,
                "value_x": b + 6,
                "value_y": float(y + 21),
                "tip": f"{bar.label}: {shown}" + (f" — {bar.hint}" if bar.hint else ""),
                "link": link,
            }
        )
    return {
        "width": width,
        "height": height,
        "ticks": ticks,
        "tick_y": float(top - 26),
        "sub_y": float(top - 13),
        "axis_x": float(x0 - 12),
        "grid_top": top - 8,
        "grid_bottom": height - 12,
        "zero": sx(0.0),
        "bars": shown_bars,
    }
