"""Drift gauges in /metrics: the served model's reference (models.drift) against the
latest decisions, recomputed on a schedule, never per request.

Every ``drift_interval_s`` seconds a background task reads the last ``drift_window``
decisions of the shared decision log (feature vectors, scores, declarations: one
read-only query, in a thread) and sets: PSI of the ``drift_top`` most shifted features
the model reads
(``targeting_drift_psi{feature=...}``, the label set cleared each time, so at most
``drift_top`` series), the largest feature PSI, the score PSI, and the rates of unseen
parties and codes. The window is read from the log rather than kept in each process:
every worker then reports the same figures for all traffic (a per-process window
would see only its share), and the request path does no extra work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.drift import PARTY_COLUMNS, DriftReference, aligned, reference_values
from serving.metrics import Metrics

logger = logging.getLogger("serving.drift")
CODE_COLUMNS = ("hs6", "origin_country")


@dataclass(frozen=True)
class DriftFigures:
    """One update's figures."""

    rows: int
    score_psi: float
    feature_psi: dict[str, float]  # the top features
    psi_max: float
    unseen_party_rate: float
    unseen_code_rate: float


def _latest(database: Path, window: int) -> tuple[list, dict[str, list[str]]]:
    """The last ``window`` decisions (spec hash, score, features, declaration) and the
    feature names by spec hash."""
    conn = sqlite3.connect(f"file:{database.resolve()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        rows = conn.execute(
            "SELECT feature_spec_hash, score, features, declaration FROM decisions"
            " ORDER BY rowid DESC LIMIT ?",
            (window,),
        ).fetchall()
        specs = dict(conn.execute("SELECT feature_spec_hash, names FROM feature_specs"))
    finally:
        conn.close()
    return rows, {k: json.loads(v) for k, v in specs.items()}


def _vector(blob: bytes, width: int) -> np.ndarray | None:
    """A stored feature vector (float64 or float32, the width tells) or None."""
    for dtype in ("<f8", "<f4"):
        if len(blob) == width * np.dtype(dtype).itemsize:
            return np.frombuffer(blob, dtype=dtype).astype(np.float64)
    return None


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def compute(reference: DriftReference, database: Path, window: int, top: int) -> DriftFigures:
    """The figures of the last ``window`` decisions against ``reference``."""
    rows, specs = _latest(database, window)
    x = np.full((len(rows), len(reference.names)), np.nan)
    for i, (spec, _, blob, _) in enumerate(rows):
        names = specs.get(spec)
        vector = None if names is None else _vector(blob, len(names))
        if vector is not None:
            x[i] = aligned(reference, names, vector[None, :])[0]
    scores = np.array([r[1] for r in rows], dtype=np.float64)
    psi = reference.feature_psi(x) if len(rows) else np.zeros(len(reference.names))
    used = reference.used_mask
    psi = np.where(used, psi, np.nan)  # features the model does not read are not listed
    order = [j for j in np.argsort(-np.nan_to_num(psi, nan=-1.0), kind="stable") if used[j]][:top]
    unseen = reference.unseen_rates(reference_values(json.loads(r[3]) for r in rows))
    return DriftFigures(
        rows=len(rows),
        score_psi=reference.score_psi(scores) if len(rows) else float("nan"),
        feature_psi={reference.names[j]: float(psi[j]) for j in order},
        psi_max=float(np.nanmax(psi)) if used.any() and len(rows) else float("nan"),
        unseen_party_rate=_mean([unseen.get(c, float("nan")) for c in PARTY_COLUMNS]),
        unseen_code_rate=_mean([unseen.get(c, float("nan")) for c in CODE_COLUMNS]),
    )


class DriftMonitor:
    """Keeps the drift gauges of one app up to date with the model in service."""

    def __init__(self, metrics: Metrics, database: Path, window: int, top: int) -> None:
        self.metrics = metrics
        self.database = database
        self.window = window
        self.top = top
        self._bundle: Path | None = None
        self._reference: DriftReference | None = None

    def update(self, bundle: Path) -> DriftFigures | None:
        """Recompute and set the gauges for the model at ``bundle`` (its reference is
        loaded once per model); None without a reference or a decision log."""
        if bundle != self._bundle:
            self._bundle, self._reference = bundle, DriftReference.load(bundle)
        if self._reference is None or not self.database.exists():
            return None
        figures = compute(self._reference, self.database, self.window, self.top)
        self.metrics.drift_figures(
            figures.rows,
            figures.score_psi,
            figures.feature_psi,
            figures.psi_max,
            {"party": figures.unseen_party_rate, "code": figures.unseen_code_rate},
        )
        return figures


async def watch(monitor: DriftMonitor, bundle_of: Callable[[], Path], every: float) -> None:
    """Update every ``every`` seconds (``bundle_of()`` names the model in service)."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(monitor.update, bundle_of())
        except (OSError, sqlite3.Error, ValueError) as exc:
            logger.error("drift gauges not updated: %s", exc)
