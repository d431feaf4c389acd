"""Time-based train / validation / test split: train on the past, validate on the next
weeks, test on the weeks after. Never random."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimeSplit:
    """Boundaries (seconds) of the validation and test windows."""

    valid_start: int
    test_start: int
    end: int

    def assign(self, times: np.ndarray) -> np.ndarray:
        """'train', 'valid' or 'test' per time."""
        return np.where(
            times >= self.test_start, "test", np.where(times >= self.valid_start, "valid", "train")
        )

    def to_dict(self) -> dict[str, int]:
        return {"valid_start": self.valid_start, "test_start": self.test_start, "end": self.end}


def time_split(times: np.ndarray, valid_share: float = 0.15, test_share: float = 0.15) -> TimeSplit:
    """Cut the covered period by time: the last ``test_share`` is the test window."""
    start, end = int(times.min()), int(times.max()) + 1
    span = end - start
    test_start = end - int(span * test_share)
    valid_start = test_start - int(span * valid_share)
    return TimeSplit(valid_start=valid_start, test_start=test_start, end=end)
