"""Escaped HTML and SVG building blocks: every piece of data goes through ``esc``.

Elements are plain strings; attribute values and text are escaped here, so callers
never concatenate raw data into markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable


def esc(value: object) -> str:
    """Text or attribute value, HTML-escaped (quotes included); None -> empty."""
    return "" if value is None else html.escape(str(value), quote=True)


def _attr_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "0"
    return esc(value)


def attrs(**values: object) -> str:
    """`` key="value"`` pairs; ``class_`` -> ``class``, ``data_x`` -> ``data-x``; None skipped."""
    parts = []
    for key, value in values.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f' {name}="{_attr_value(value)}"')
    return "".join(parts)


def tag(name: str, body: str | Iterable[str] = "", **values: object) -> str:
    """``<name attrs>body</name>``: ``body`` is markup already (escape text with ``esc``)."""
    inner = body if isinstance(body, str) else "".join(body)
    return f"<{name}{attrs(**values)}>{inner}</{name}>"


def void(name: str, **values: object) -> str:
    """A self-closing SVG element: ``<rect attrs/>``."""
    return f"<{name}{attrs(**values)}/>"


def text(x: float, y: float, content: object, **values: object) -> str:
    """An SVG ``<text>`` with escaped content."""
    return tag("text", esc(content), x=float(x), y=float(y), **values)


def title(content: object) -> str:
    """An SVG/HTML tooltip (``<title>``), escaped."""
    return tag("title", esc(content))


def clip(value: object, size: int) -> str:
    """Text shortened to ``size`` characters with an ellipsis (SVG text does not wrap)."""
    s = "" if value is None else str(value)
    return s if len(s) <= size else s[: max(size - 1, 1)] + "…"
