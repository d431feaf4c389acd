"""Is the score a probability on all traffic? Predicted against found hits on the random
controls, the one uniform sample of traffic whose outcomes are known.

If the score is the probability that a control of the declaration finds an
irregularity, the sum of the scores of the random controls is the number of hits they
should find. The found count is Poisson-like: its exact (Garwood) 95 % interval says
whether a gap between the two is more than chance.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

MIN_RANDOM_CONTROLS = 50


def poisson_interval(count: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean given an observed ``count``."""
    alpha = 1 - level
    low = 0.0 if count <= 0 else float(chi2.ppf(alpha / 2, 2 * count) / 2)
    high = float(chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)
    return low, high


def traffic_calibration(
    scores: np.ndarray, y: np.ndarray, basis: np.ndarray, suffix: str = "random_controls"
) -> dict[str, float]:
    """Predicted hits (sum of scores) and found hits with their 95 % interval on the random
    controls; empty under ``MIN_RANDOM_CONTROLS`` of them."""
    random = np.asarray(basis) == "random"
    if random.sum() < MIN_RANDOM_CONTROLS:
        return {}
    predicted = float(np.sum(scores[random]))
    found = float(np.sum(y[random] > 0))
    low, high = poisson_interval(found)
    return {
        f"predicted_hits_{suffix}": predicted,
        f"found_hits_{suffix}": found,
        f"found_hits_low_{suffix}": low,
        f"found_hits_high_{suffix}": high,
        f"predicted_over_found_{suffix}": predicted / found if found else float("nan"),
    }


def traffic_line(metrics: dict[str, float], suffix: str = "random_controls") -> str:
    """'predicted 12.3 hits, found 10 (95 % interval 4.8-18.4)', '' when not measured."""
    if f"predicted_hits_{suffix}" not in metrics:
        return ""
    return (
        f"predicted {metrics[f'predicted_hits_{suffix}']:.1f} hits, found"
        f" {metrics[f'found_hits_{suffix}']:.0f} (95% interval"
        f" {metrics[f'found_hits_low_{suffix}']:.1f}-{metrics[f'found_hits_high_{suffix}']:.1f})"
    )
