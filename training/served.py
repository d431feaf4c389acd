"""Features of a window as the service computes them: evaluation as served.

The service scores from a state fitted at training time and folds declarations in as
they arrive, while the window's control results are not known yet. With the
point-in-time pipeline that state is exactly a pipeline fitted on every declaration
(and ENS filing) but only the control results known before the window starts: each
window row then sees the declarations lodged before it (folded as they arrived) and no
result known inside the window. Training's own matrix (``fit_transform`` on the whole
history) instead gives a window row every result known before the row itself, a live
label history the service never has; a test window scored that way overstates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import FeaturePipeline
from features.history import result_known_at
from features.profiles import ProfileConfig
from features.timebase import to_seconds


@dataclass(frozen=True)
class WindowFeatures:
    """Feature rows of every declaration of a window."""

    rows: np.ndarray  # positions in the declarations table, ascending
    x: np.ndarray

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Features of the given declaration positions (all inside the window)."""
        pos = np.searchsorted(self.rows, rows)
        if len(rows) and (pos.max() >= len(self.rows) or (self.rows[pos] != rows).any()):
            raise ValueError("rows outside the window asked of its features")
        return self.x[pos]


def controls_known_before(
    declarations: pd.DataFrame, controls: pd.DataFrame, time: int
) -> pd.DataFrame:
    """The control results known strictly before ``time`` (seconds): a result is known at
    max(controlled_at, its declaration's lodged_at), as the feature pipeline reads it; one
    whose declaration is absent counts from its controlled_at."""
    lodged = declarations.set_index("declaration_id")["lodged_at"]
    lodged_s = to_seconds(controls["declaration_id"].map(lodged))
    missing = controls["declaration_id"].map(lodged).isna().to_numpy()
    controlled = to_seconds(controls["controlled_at"])
    known = result_known_at(controlled, np.where(missing, controlled, lodged_s))
    return controls[known < time]


def default_pipeline(profile: ProfileConfig | None = None) -> FeaturePipeline:
    """The pipeline training fits (features' blocks and the party graph)."""
    from graph.pipeline_blocks import all_blocks

    return FeaturePipeline(all_blocks(profile=profile))


def served_window(
    frames: dict[str, pd.DataFrame],
    start: int,
    rows: np.ndarray,
    make_pipeline: Callable[[], FeaturePipeline] = default_pipeline,
) -> WindowFeatures:
    """Features of the declarations at ``rows`` (a window starting at ``start``) as
    served: a pipeline fitted on every declaration and ENS filing, and on the control
    results known before ``start`` only, then ``transform`` of the window's rows."""
    d = frames["declarations"]
    known = controls_known_before(d, frames["controls"], start)
    pipeline = make_pipeline().fit(d, known, frames.get("ens_filings"), frames.get("ens_items"))
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    x = pipeline.transform_inputs(pipeline.fitted_inputs_.take(rows))
    return WindowFeatures(rows, x)
