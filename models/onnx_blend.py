"""The blend, its calibration and the expected revenue as ONNX ops (float64 inside).

Mirrors ``models.blend`` operation by operation, in double like numpy:
raw = w * p_trees + (1 - w) * p_network; isotonic calibration is ``np.interp`` rebuilt
exactly (branch-free binary search for the largest j with x[j] <= raw, then numpy's
own rules: below x[0] -> y[0], above x[-1] -> y[-1], a hit on x[j] -> y[j], otherwise
slope[j] * (raw - x[j]) + y[j] with numpy's slope formula); Platt is
1 / (1 + exp(-(a * log(c / (1 - c)) + b))) with c = clip(raw, 1e-6, 1 - 1e-6).
Expected revenue is score * max(exp(log_revenue) * smearing - 1, 0) (a smearing factor:
the mean revenue of a hit, not the median a log-scale regression gives).
"""

from __future__ import annotations

import numpy as np

from models.blend import EPS, Blend, Calibrator
from models.onnx_graphs import DOUBLE, FLOAT, GraphBuilder


def _interp(b: GraphBuilder, raw: str, xp: np.ndarray, fp: np.ndarray) -> str:
    """np.interp(raw, xp, fp) for ascending xp, in float64 ops."""
    if len(xp) == 1:
        return b.op("Add", b.op("Mul", raw, b.const(0.0, "zero")), b.const(fp[0], "y0"))
    size = 1 << (len(xp) - 1).bit_length()  # power of two >= len(xp)
    padded = b.const(np.concatenate([xp, np.full(size - len(xp), np.inf)]), "iso_x_padded")
    pos: str | None = None
    step = size // 2
    while step >= 1:  # pos = largest j with xp[j] <= raw (0 when raw < xp[0])
        if pos is None:
            candidate = b.const(np.array(step, dtype=np.int64), "step")
            pos_else = b.const(np.array(0, dtype=np.int64), "zero_i")
        else:
            candidate = b.op("Add", pos, b.const(np.array(step, dtype=np.int64), "step"))
            pos_else = pos
        below = b.op("LessOrEqual", b.op("Gather", padded, candidate), raw)
        pos = b.op("Where", below, candidate, pos_else)
        step //= 2
    assert pos is not None
    x_all, y_all = b.const(xp, "iso_x"), b.const(fp, "iso_y")
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    j = b.op("Min", pos, b.const(np.array(len(xp) - 2, dtype=np.int64), "last_segment"))
    line = b.op(
        "Add",
        b.op(
            "Mul",
            b.op("Gather", b.const(slopes, "iso_slope"), j),
            b.op("Sub", raw, b.op("Gather", x_all, j)),
        ),
        b.op("Gather", y_all, j),
    )
    hit = b.op("Equal", b.op("Gather", x_all, pos), raw)
    inside = b.op("Where", hit, b.op("Gather", y_all, pos), line)
    right = b.op(
        "Where", b.op("Greater", raw, b.const(xp[-1], "x_last")), b.const(fp[-1], "y_last"), inside
    )
    return b.op(
        "Where", b.op("Less", raw, b.const(xp[0], "x_first")), b.const(fp[0], "y_first"), right
    )


def _platt(b: GraphBuilder, raw: str, a: float, c: float) -> str:
    clipped = b.op("Clip", raw, b.const(EPS, "eps"), b.const(1 - EPS, "one_minus_eps"))
    one = b.const(1.0, "one")
    logit = b.op("Log", b.op("Div", clipped, b.op("Sub", one, clipped)))
    z = b.op("Add", b.op("Mul", b.const(a, "a"), logit), b.const(c, "b"))
    return b.op("Div", one, b.op("Add", one, b.op("Exp", b.op("Neg", z))))


def calibrate(b: GraphBuilder, raw: str, calibrator: Calibrator) -> str:
    """Calibrated probability, float64 [N]."""
    if calibrator.kind == "isotonic":
        xp = np.asarray(calibrator.x, dtype=np.float64)
        fp = np.asarray(calibrator.y, dtype=np.float64)
        if len(xp) == 0 or len(xp) != len(fp) or np.isnan(xp).any() or (np.diff(xp) < 0).any():
            raise ValueError("isotonic calibration needs as many x as y, x ascending, no NaN")
        return _interp(b, raw, xp, fp)
    if calibrator.kind == "platt":
        return _platt(b, raw, float(calibrator.a), float(calibrator.b))
    raise ValueError(f"unknown calibration {calibrator.kind!r}: use isotonic or platt")


def blend_graph(
    b: GraphBuilder, p_trees: str, p_network: str, log_revenue: str, blend: Blend
) -> tuple[str, str]:
    """(score, expected_revenue), float32 [N]: the calibrated blend, and
    score * max(exp(log_revenue) * revenue_smearing - 1, 0) as ``Blend.expected_revenue``."""
    w = float(blend.weight)
    raw = b.op(
        "Add",
        b.op("Mul", b.const(w, "weight"), b.cast(p_trees, DOUBLE)),
        b.op("Mul", b.const(1 - w, "one_minus_weight"), b.cast(p_network, DOUBLE)),
    )
    score = calibrate(b, raw, blend.calibrator)
    smeared = b.op(
        "Mul", b.op("Exp", b.cast(log_revenue, DOUBLE)), b.const(blend.revenue_smearing, "smear")
    )
    revenue = b.op("Max", b.op("Sub", smeared, b.const(1.0, "one")), b.const(0.0, "zero"))
    expected = b.op("Mul", score, revenue)
    return b.cast(score, FLOAT), b.cast(expected, FLOAT)
