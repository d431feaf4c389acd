"""Which declarations to control: a model arm at a rolling score threshold, plus a
random arm with a known probability.

Policy (``inspection_rate`` r, ``exploration_share`` e):

* model arm: selected when the score is above the threshold tau, the largest of the
  last ``window`` scores outside their top share r(1 - e); so the model arm keeps
  selecting a share r(1 - e) of the traffic as the score distribution drifts. Scores
  equal to tau are not selected: a clump of equal scores never overruns the budget.
  Before ``warmup`` scores have been seen, tau comes from the bundle
  (``warmup_threshold``). The row's own score joins the window after its decision.
* random arm: every declaration, AEO included (no blind spot), is drawn with
  probability p = r * e, independently of its score. The draw is a keyed hash of the
  declaration id (``RandomArm``): a declaration sent again (a retry, a duplicate) gets
  the same draw, so the recorded propensity stays its probability of being selected,
  and without the key no one can choose ids that escape the arm.

``basis`` is "model" when the model arm selects (whatever the draw), "random" when
only the draw does, "none" otherwise. ``propensity`` is P(selected) under the
combined policy given the threshold in force at decision time: 1 for a score above
tau (the threshold is deterministic), p at or below it, for selected and unselected
declarations alike. A model rate too small to keep one score of the window above the
threshold selects nothing (tau is infinite), not one score per window regardless. The
threshold is recorded with each decision; the random arm alone is a uniform sample with
probability p (the unbiased hit-rate estimate).
Total selection rate: r(1 - e) + p(1 - r(1 - e)), slightly below r.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Shares of validation rows above the bundle's "high" and "medium" band thresholds when
# the manifest does not say (training.TrainConfig's band_high_share, band_medium_share).
DEFAULT_BAND_SHARES = {"high": 0.02, "medium": 0.10}


@dataclass(frozen=True)
class Policy:
    """The configured budget and its split between the two arms."""

    inspection_rate: float
    exploration_share: float
    window: int = 10_000
    warmup: int = 1_000

    @property
    def model_rate(self) -> float:
        return self.inspection_rate * (1.0 - self.exploration_share)

    @property
    def random_probability(self) -> float:
        """r * e without the product's float noise (0.005, not 0.005000000000000001): it is
        the propensity the answers and the decision log show."""
        return _clean(self.inspection_rate * self.exploration_share)


def _clean(value: float) -> float:
    """``value`` to 12 significant digits: drops the last-bit noise of a float product."""
    return float(f"{value:.12g}")


@dataclass(frozen=True)
class Decision:
    """One declaration's selection, its basis and propensity, and the threshold used."""

    selected: bool
    basis: str  # "model", "random" or "none"
    propensity: float
    threshold: float
    random_probability: float


def warmup_threshold(manifest: dict[str, Any], share: float) -> float:
    """Score threshold with ``share`` of validation rows above it, from the bundle.

    Uses ``manifest["validation_score_quantiles"]`` ({share: threshold}) when present,
    else the band thresholds (``bands`` at ``band_shares``, default 2 % and 10 %),
    interpolated linearly in log(share) and clamped to the outermost known points.
    """
    if share <= 0:
        return math.inf
    points = manifest.get("validation_score_quantiles")
    if points:
        known = sorted((float(s), float(t)) for s, t in points.items())
    else:
        shares = {**DEFAULT_BAND_SHARES, **manifest.get("band_shares", {})}
        bands = manifest["bands"]
        known = sorted((float(shares[name]), float(bands[name])) for name in bands)
    xs = np.log([s for s, _ in known])
    ts = np.array([t for _, t in known])
    return float(np.interp(math.log(share), xs, ts))


class RandomArm:
    """The random arm's draws: uniform in [0, 1) from a keyed BLAKE2b hash of the
    declaration id, the same for every request of one declaration under one key."""

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("the random arm's key must have 16 to 64 bytes")
        self._key = key

    def draws(self, ids: Sequence[str]) -> list[float]:
        key = self._key
        return [
            int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8, key=key).digest()) / 2**64
            for i in ids
        ]


class Selector:
    """The rolling threshold and the random arm. Not thread-safe: one caller at a time."""

    def __init__(self, policy: Policy, initial_threshold: float, arm: RandomArm) -> None:
        self.policy = policy
        self.initial_threshold = float(initial_threshold)
        self._arm = arm
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._selected: deque[bool] = deque()
        self._selected_count = 0

    @property
    def warm(self) -> bool:
        """Whether the threshold comes from recent scores (else from the bundle)."""
        return len(self._recent) >= self.policy.warmup

    @property
    def threshold(self) -> float:
        """The score threshold of the model arm now."""
        if not self.warm:
            return self.initial_threshold
        n = len(self._sorted)
        above = round(n * self.policy.model_rate)
        if above == 0:
            return math.inf
        return self._sorted[max(0, n - above - 1)]

    @property
    def selection_rate(self) -> float:
        """Share selected (both arms) among the decisions in the window; NaN before any."""
        n = len(self._selected)
        return self._selected_count / n if n else math.nan

    def _remember(self, score: float, selected: bool) -> None:
        self._recent.append(score)
        bisect.insort(self._sorted, score)
        self._selected.append(selected)
        self._selected_count += selected
        if len(self._recent) > self.policy.window:
            old = self._recent.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
            self._selected_count -= self._selected.popleft()

    def observe(self, scores: Sequence[float], selected: Sequence[bool]) -> None:
        """Let scores decided elsewhere (another worker process on the same log) join the
        window, so the processes' thresholds converge on one."""
        for score, chosen in zip(scores, selected, strict=True):
            self._remember(float(score), bool(chosen))

    def decide(self, scores: np.ndarray, ids: Sequence[str]) -> list[Decision]:
        """Decisions for ``scores`` (of declarations ``ids``) in order, each taken before
        its score joins the window."""
        p = self.policy.random_probability
        draws = self._arm.draws(ids)
        out = []
        for score, draw in zip(scores.tolist(), draws, strict=True):
            tau = self.threshold
            if score > tau:
                decision = Decision(True, "model", 1.0, tau, p)
            elif draw < p:
                decision = Decision(True, "random", p, tau, p)
            else:
                decision = Decision(False, "none", p, tau, p)
            self._remember(score, decision.selected)
            out.append(decision)
        return out
