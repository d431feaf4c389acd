"""The Jinja2 environment of the explanation page: templates in ``templates/``, escaped.

Every ``{{ value }}`` of an HTML or SVG template is HTML-escaped (autoescaping, quotes
included, ``None`` shown as nothing), so data never reaches the markup raw; only the
stylesheet (``.css``, no data in it) is included as is. Python prepares the numbers,
texts and SVG geometry; the templates hold the markup.
"""

from __future__ import annotations

import functools
import html
import math
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


def escaped(value: object) -> object:
    """A value as the page shows it: HTML-escaped with the standard library's rules
    (``"`` -> ``&quot;``), ``None`` -> empty; markup made by the templates kept as is."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


def coordinate(value: object) -> str:
    """An SVG number: floats with two decimals (non-finite -> 0), integers as they are."""
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "0"
    return str(value)


@functools.cache
def environment() -> Environment:
    """The page's template environment (built once; templates are read-only)."""
    env = Environment(
        loader=PackageLoader("serving.explain", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "svg"), disabled_extensions=("css",), default=True
        ),
        finalize=escaped,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["n"] = coordinate
    return env


def render(name: str, **context: Any) -> str:
    """Template ``name`` rendered with ``context``."""
    return environment().get_template(name).render(**context)
