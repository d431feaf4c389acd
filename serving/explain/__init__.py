"""Explanations for officers: reason texts with their baselines, and the explanation page.

``explain_rows`` (``serving.explain.reasons``) words the top reason codes of a scored
batch; ``render_explanation`` (``serving.explain.page``) renders a stored decision
record as a self-contained HTML page (inline CSS and SVG, no script, no external asset);
``render_explanation_for`` scores a declaration and renders its page.
"""

from serving.explain.page import render_explanation, render_explanation_for
from serving.explain.reasons import explain_rows

__all__ = ["explain_rows", "render_explanation", "render_explanation_for"]
