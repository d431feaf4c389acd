"""Exploration share raised by drift, within set bounds.

A loop that only exploits sees labels only where its model already looks; when traffic
moves away from what the model was trained on, its blind spots grow, so the share of the
budget spent at random should grow too. The drift signal of a week is measured on the
previous week's traffic against the four weeks before it, both scored by the current
model (``models.drift.DriftReference``: the same bins and PSI as ``targeting drift`` and
``/metrics``): the score PSI, the share of the model's features whose PSI exceeds 0.25
(logged; a pressure only when given levels, see ``ExplorationBounds``), and the rate of
parties never seen before. Each becomes a pressure in [0, 1] (0 below its calm level, 1
at its alarm level, linear between); the share is ``low + (high - low) *
max(pressures)``. The thresholds are the usual PSI reading (under 0.1 stable, over 0.25 a
different distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.drift import PARTY_COLUMNS, DriftReference

MOVED_PSI = 0.25  # a feature whose PSI exceeds this has a different distribution


@dataclass(frozen=True)
class DriftSignal:
    """One week's drift against its reference weeks."""

    score_psi: float
    features_moved: float  # share of the model's features with PSI > MOVED_PSI
    unseen_parties: float  # share of party values (importer, declarant, seller) never seen


@dataclass(frozen=True)
class ExplorationBounds:
    """Where the exploration share may go, and which drift levels move it."""

    low: float
    high: float
    score_psi: tuple[float, float] = (0.1, 0.25)
    # None: logged, not a pressure. Measured on calm weeks (benchmarks.backtest, 20 weeks,
    # 400 a day) 26-38 % of the features move week on week, the history-age proxies (days
    # since first seen, cumulative counts) among them, so a share threshold would hold the
    # share at its bound every week
    features_moved: tuple[float, float] | None = None
    unseen_parties: tuple[float, float] = (0.1, 0.3)

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(
                f"exploration bounds {self.low:g}..{self.high:g}: need 0 <= low <= high <= 1"
            )
        for name in ("score_psi", "features_moved", "unseen_parties"):
            if getattr(self, name) is None:
                continue
            calm, alarm = getattr(self, name)
            if not calm < alarm:
                raise ValueError(f"{name} levels {calm:g}..{alarm:g}: calm must be below alarm")


def pressure(value: float, levels: tuple[float, float] | None) -> float:
    """0 at or below the calm level, 1 at or above the alarm level, linear between; 0 for
    a value that could not be measured (NaN) or a signal without levels."""
    if levels is None or not np.isfinite(value):
        return 0.0
    calm, alarm = levels
    return float(np.clip((value - calm) / (alarm - calm), 0.0, 1.0))


def exploration_share(signal: DriftSignal, bounds: ExplorationBounds) -> float:
    """The week's exploration share: the low bound, raised towards the high one by the
    strongest drift pressure."""
    strongest = max(
        pressure(signal.score_psi, bounds.score_psi),
        pressure(signal.features_moved, bounds.features_moved),
        pressure(signal.unseen_parties, bounds.unseen_parties),
    )
    return bounds.low + (bounds.high - bounds.low) * strongest


def drift_signal(
    names: list[str],
    reference_x: np.ndarray,
    recent_x: np.ndarray,
    probability: np.ndarray,
    reference_scores: np.ndarray,
    recent: pd.DataFrame,
    before: pd.DataFrame,
) -> DriftSignal:
    """Drift of ``recent_x`` (scored ``probability``) against ``reference_x`` (scored
    ``reference_scores`` by the same model); unseen parties: the party values of
    ``recent`` declarations absent from every ``before`` declaration."""
    reference = DriftReference.fit(names, reference_x, reference_scores, {})
    moved = reference.feature_psi(recent_x) > MOVED_PSI
    return DriftSignal(
        score_psi=reference.score_psi(probability),
        features_moved=float(moved.mean()) if len(moved) else 0.0,
        unseen_parties=unseen_share(recent, before),
    )


def unseen_share(recent: pd.DataFrame, before: pd.DataFrame) -> float:
    """Share of the non-null party values of ``recent`` that no ``before`` row holds."""
    unseen = total = 0
    for column in PARTY_COLUMNS:
        if column not in recent or column not in before:
            continue
        values = recent[column].dropna()
        total += len(values)
        unseen += int((~values.isin(before[column].dropna().unique())).sum())
    return unseen / total if total else float("nan")
