"""Number formatting for officers: EUR amounts, percentages, counts, durations.

Every helper takes a plain float (NaN or None allowed) and returns a short string;
``"n/a"`` stands for a missing number, so a text never shows ``nan``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

MISSING = "n/a"


def finite(value: float | None) -> bool:
    """Whether ``value`` is a real number (not None, NaN or infinite)."""
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except TypeError:
        return False


def count(value: float | None) -> str:
    """An integer count with thousands separators: ``1,240``."""
    if not finite(value):
        return MISSING
    return f"{round(float(value)):,}"


def plural(value: float | None, word: str, words: str | None = None) -> str:
    """``3 controls``, ``1 control``: the count and its noun."""
    n = round(float(value)) if finite(value) else 0
    return f"{count(value)} {word if n == 1 else (words or word + 's')}"


def number(value: float | None, digits: int = 3) -> str:
    """A plain number with thousands separators and about ``digits`` significant digits."""
    if not finite(value):
        return MISSING
    v = float(value)
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{v:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def eur(value: float | None) -> str:
    """An amount in EUR: ``EUR 12,345``, ``EUR 4.30``, ``EUR 0.0431``."""
    if not finite(value):
        return MISSING
    v = float(value)
    if abs(v) >= 100:
        return f"EUR {v:,.0f}"
    if abs(v) >= 1 or v == 0:
        return f"EUR {v:,.2f}"
    return f"EUR {number(v, 3)}"


def eur_per(value: float | None, unit: str) -> str:
    """A unit value: ``EUR 4.30/kg``."""
    text = eur(value)
    return text if text == MISSING else f"{text}/{unit}"


def pct(fraction: float | None) -> str:
    """A fraction as a percentage: 0.14 -> ``14%``, 0.016 -> ``1.6%``, 0.0004 -> ``0.04%``."""
    if not finite(fraction):
        return MISSING
    p = 100.0 * float(fraction)
    if abs(p) >= 10 or p == 0:
        return f"{p:,.0f}%"
    if abs(p) >= 0.1:
        return f"{p:.1f}%".replace(".0%", "%")
    return f"{number(p, 1)}%"


def points(fraction: float | None) -> str:
    """A difference of two rates in percentage points: 0.09 -> ``9 points``."""
    if not finite(fraction):
        return MISSING
    p = round(100.0 * abs(float(fraction)), 1)
    text = f"{p:.0f}" if p >= 10 or p == round(p) else f"{p:.1f}"
    return f"{text} point" + ("" if text == "1" else "s")


def days(value: float | None) -> str:
    """A duration in days: ``3 days``, ``1 day``, ``5 hours``."""
    if not finite(value):
        return MISSING
    d = float(value)
    if d < 1:
        h = max(0, round(24 * d))
        return "less than an hour" if h == 0 else plural(h, "hour")
    return plural(math.floor(d), "day")


def hours(value: float | None) -> str:
    """A duration in hours: ``36 hours``, ``4.5 hours``, ``20 minutes``; days past 72 h."""
    if not finite(value):
        return MISSING
    h = abs(float(value))
    if h < 1:
        return plural(round(60 * h), "minute")
    if h >= 72:
        return plural(round(h / 24), "day")
    return f"{number(h, 2)} hour" + ("" if number(h, 2) == "1" else "s")


def log_odds(value: float | None) -> str:
    """A signed log-odds contribution: ``+0.42``, ``-1.30``."""
    if not finite(value):
        return MISSING
    return f"{float(value):+.2f}"


def share(part: float | None, whole: float | None) -> str:
    """``3 of 1,240``."""
    return f"{count(part)} of {count(whole)}"


def when(value: object) -> str:
    """An ISO timestamp (or datetime) as ``2025-05-30 14:03 UTC``; anything else as given."""
    if value is None:
        return MISSING
    try:
        stamp = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
    except ValueError:
        return str(value)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def clip(value: object, size: int) -> str:
    """Text shortened to ``size`` characters with an ellipsis (SVG text does not wrap)."""
    s = "" if value is None else str(value)
    return s if len(s) <= size else s[: max(size - 1, 1)] + "…"
