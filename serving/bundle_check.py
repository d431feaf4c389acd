"""The parity smoke test a bundle passes before it serves.

A fixed sample is scored (with reasons, the full request path): every score must be a
finite probability, every expected revenue finite. When the manifest carries
``smoke_test: {"scores": [...]}`` (optionally with its own ``"records"``; else the
built-in ``serving.examples.smoke_sample``), the scores must match within 1e-5. File
checksums and the feature spec hash are checked when the bundle is read and the scorer
built (``models.bundle.read_bundle``, ``Scorer``).
"""

from __future__ import annotations

import numpy as np

from models.bundle import BundleError
from serving.examples import smoke_sample
from serving.scoring import Scorer

SMOKE_TOLERANCE = 1e-5


def smoke_test(scorer: Scorer) -> None:
    """Raise BundleError unless the bundle scores the smoke sample as it should."""
    spec = scorer.manifest.get("smoke_test") or {}
    records = spec.get("records") or smoke_sample()
    batch = scorer.score_records(records, reasons=True)
    where = scorer.info.directory
    if not (np.isfinite(batch.score).all() and ((batch.score >= 0) & (batch.score <= 1)).all()):
        raise BundleError(f"{where}: smoke test: scores are not finite probabilities")
    if not np.isfinite(batch.expected_revenue).all():
        raise BundleError(f"{where}: smoke test: expected revenue is not finite")
    expected = spec.get("scores")
    if expected is not None:
        expected = np.asarray(expected, dtype=np.float64)
        if expected.shape != batch.score.shape:
            raise BundleError(
                f"{where}: smoke test: {len(expected)} expected scores for {len(records)} records"
            )
        gap = float(np.max(np.abs(expected - batch.score)))
        if gap > SMOKE_TOLERANCE:
            raise BundleError(
                f"{where}: smoke test: scores differ from the manifest's by up to {gap:.2e}"
                f" (tolerance {SMOKE_TOLERANCE:.0e})"
            )
