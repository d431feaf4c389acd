"""Risk bands and serving's warm-up thresholds are shares of traffic, not of labelled rows."""

from __future__ import annotations

import pytest

from tests.training.conftest import Served


@pytest.mark.parametrize("band", ["high", "medium"])
def test_band_thresholds_cut_their_share_of_validation_traffic(served: Served, band: str) -> None:
    """Every declaration of the validation window counts, controlled or not."""
    traffic = served.score[served.window("valid")]
    intended = served.manifest["band_shares"][band]
    above = float((traffic > served.manifest["bands"][band]).mean())
    assert above == pytest.approx(intended, rel=0.2), (band, above, intended)


def test_warmup_quantiles_cut_their_share_of_validation_traffic(served: Served) -> None:
    """serving.selection.warmup_threshold reads these points as shares of all traffic."""
    traffic = served.score[served.window("valid")]
    points = served.manifest["validation_score_quantiles"]
    assert len(points) >= 5
    for share, threshold in points.items():
        above = float((traffic > threshold).mean())
        assert above == pytest.approx(float(share), rel=0.2), (share, above)
