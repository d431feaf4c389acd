"""Blend of the tree and network probabilities, then calibration fitted on validation.

The blend weight is the one whose blended score gives the best validation
precision@5 % (the budget customs works with), the network getting weight only when that
beats the trees alone by a margin (a noisy validation gain does not buy a second model's
drift); the blended score is then calibrated (isotonic by default, Platt as the
alternative) on the same validation rows. Calibration takes sample weights: weighted by
inverse selection propensity, the controlled rows stand for all traffic, so the score
reads as a probability on every declaration rather than on those earlier rules picked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.metrics import precision_at

WEIGHTS = tuple(round(w, 2) for w in np.linspace(0, 1, 11))
EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    """Maps a raw score in [0, 1] to a probability."""

    kind: str  # "isotonic" or "platt"
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.kind == "isotonic":
            return np.interp(raw, np.asarray(self.x), np.asarray(self.y))
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y), "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        return cls(d["kind"], tuple(d["x"]), tuple(d["y"]), float(d["a"]), float(d["b"]))


def fit_calibrator(
    raw: np.ndarray,
    y: np.ndarray,
    kind: str = "isotonic",
    sample_weight: np.ndarray | None = None,
) -> Calibrator:
    """Isotonic (piecewise-linear, monotone) or Platt (logistic on the logit) calibration,
    each row counted ``sample_weight`` times (e.g. 1 / its selection propensity)."""
    if kind == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(raw, y, sample_weight=sample_weight)
        return Calibrator(
            "isotonic", tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_))
        )
    if kind == "platt":
        lr = LogisticRegression(C=1e6).fit(_logit(raw)[:, None], y, sample_weight=sample_weight)
        return Calibrator("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    raise ValueError(f"unknown calibration {kind!r}: use isotonic or platt")


def smearing_factor(log_revenue_pred: np.ndarray, revenue: np.ndarray) -> float:
    """The factor that turns the revenue head's exp(prediction) into a mean: sum(1 + r) /
    sum(exp(prediction)) over the training hits, 1.0 without rows.

    The head is fitted by squared error on log1p(revenue), so exp of its prediction is
    near the conditional median, far below the mean of heavy-tailed revenue. The ratio
    of sums (a smearing estimate, like Duan's mean of exp(residual), and like it exact
    on the training total) weighs each hit by its predicted size, so a few hits with a
    tiny prediction do not inflate it: on a small world Duan's mean gave 1.9x the
    held-out total, this ratio less (tests/training/test_revenue.py).
    """
    if len(revenue) == 0:
        return 1.0
    predicted = np.exp(np.asarray(log_revenue_pred, np.float64))
    total = float(np.sum(1.0 + np.asarray(revenue, np.float64)))
    return total / float(np.sum(predicted))


@dataclass(frozen=True)
class Blend:
    """weight * p_trees + (1 - weight) * p_network, then calibrated; and the expected revenue
    score * (exp(log_revenue) * revenue_smearing - 1), clipped at 0."""

    weight: float
    calibrator: Calibrator
    revenue_smearing: float = 1.0  # smearing factor of the revenue head, on training hits

    def raw(self, p_trees: np.ndarray, p_network: np.ndarray) -> np.ndarray:
        return self.weight * np.asarray(p_trees) + (1 - self.weight) * np.asarray(p_network)

    def score(self, p_trees: np.ndarray, p_network: np.ndarray) -> np.ndarray:
        return self.calibrator.apply(self.raw(p_trees, p_network))

    def revenue_given_hit(self, log_revenue: np.ndarray) -> np.ndarray:
        """Mean revenue of a hit (not the median): exp(prediction) * smearing - 1, >= 0."""
        log_revenue = np.asarray(log_revenue, dtype=np.float64)
        return np.maximum(np.exp(log_revenue) * self.revenue_smearing - 1.0, 0.0)

    def expected_revenue(self, score: np.ndarray, log_revenue: np.ndarray) -> np.ndarray:
        """Probability of a hit times its mean revenue (the ONNX graph's formula)."""
        return np.asarray(score, dtype=np.float64) * self.revenue_given_hit(log_revenue)

    def to_dict(self) -> dict[str, object]:
        return {
            "weight": self.weight,
            "calibrator": self.calibrator.to_dict(),
            "revenue_smearing": self.revenue_smearing,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Blend:
        smearing = float(d.get("revenue_smearing", 1.0))  # bundles from before: the median
        return cls(float(d["weight"]), Calibrator.from_dict(d["calibrator"]), smearing)


def choose_weight(
    p_trees: np.ndarray, p_network: np.ndarray, y: np.ndarray, margin: float = 0.0
) -> tuple[float, dict[float, float]]:
    """The trees' weight by validation precision@5 % (ties: more weight on the trees); any
    weight below 1 only if its precision@5 % beats the trees alone by ``margin``."""
    scores = {w: precision_at(w * p_trees + (1 - w) * p_network, y, 5) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: (scores[w], w))
    if scores[best] < scores[1.0] + margin - 1e-12:
        best = 1.0
    return best, scores


def fit_blend(
    p_trees: np.ndarray,
    p_network: np.ndarray,
    y: np.ndarray,
    kind: str = "isotonic",
    margin: float = 0.0,
    sample_weight: np.ndarray | None = None,
) -> tuple[Blend, dict[float, float]]:
    """Weight by ``choose_weight``, then the calibration of the blend on the same rows
    (weighted by ``sample_weight``); the precision@5 % of every weight."""
    best, scores = choose_weight(p_trees, p_network, y, margin)
    raw = best * p_trees + (1 - best) * p_network
    return Blend(best, fit_calibrator(raw, y, kind, sample_weight)), scores
