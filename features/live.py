"""The live feature state: a fitted ``FeaturePipeline`` that moves with the world.

A model bundle carries the state as of the end of its training history. Scored as it
is, every party goes quiet and every code grows old within weeks (30/90-day counts fall
to zero). ``LiveState`` is that state kept current: each scored declaration is folded
in after its own features were computed, each control result when it becomes known,
in ``targeting score`` and in the API alike (one implementation). Folding is
``FeaturePipeline.update``: facts only, nothing refitted (smoothing strengths,
vocabularies of the model, calibration stay the bundle's).

Because every feature is computed as of the row's own time from facts strictly before
it, folding a batch and then transforming it equals folding row by row in lodging
order: a row never sees itself, a later row or a result not yet known.

The state is saved in generations under one directory per source (the bundle it
started from): ``<root>/<source>/<generation>/`` plus a ``CURRENT`` file naming the
latest complete one, replaced atomically, so a crash while saving leaves the previous
generation in force.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.blocks import FeatureBlock
from features.inputs import Inputs, inputs_from_records
from features.pipeline import FeaturePipeline
from features.timebase import DAY, to_seconds

logger = logging.getLogger("features.live")
CURRENT = "CURRENT"
META = "live.json"
PIPELINE_DIR = "pipeline"
STALE_AFTER_DAYS = 7.0  # rows this far past the state's end, unfolded, get a warning


@dataclass
class LiveMeta:
    """Where a live state came from and how far it has been folded."""

    source: str  # identity of the bundle whose state it started from
    state_end: int  # seconds: the latest declaration or result time folded so far
    positions: dict[str, int] = field(default_factory=dict)  # event streams read up to
    folded_declarations: int = 0
    folded_controls: int = 0
    late_declarations: int = 0  # folded after later ones had already been folded
    saved_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LiveMeta:
        return cls(**values)


def _times(values: pd.Series | None) -> np.ndarray:
    if values is None or len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    return to_seconds(values)


def rows_past(state_end: int, times: np.ndarray) -> float:
    """How many days the latest of ``times`` lies past ``state_end`` (0 when none do)."""
    if len(times) == 0:
        return 0.0
    return max(0.0, (int(np.max(times)) - state_end) / DAY)


class LiveState:
    """A pipeline and its ``LiveMeta``; ``fold`` keeps it current, ``save`` persists it."""

    def __init__(self, pipeline: FeaturePipeline, meta: LiveMeta) -> None:
        self.pipeline = pipeline
        self.meta = meta

    @classmethod
    def start(cls, pipeline: FeaturePipeline, source: str, state_end: int) -> LiveState:
        """A live state beginning at a bundle's fitted state (``state_end``: its history's end)."""
        return cls(pipeline, LiveMeta(source=source, state_end=int(state_end)))

    # ----- folding -------------------------------------------------------------------
    def fold(
        self,
        declarations: pd.DataFrame | None = None,
        controls: pd.DataFrame | None = None,
        ens_filings: pd.DataFrame | None = None,
        ens_items: pd.DataFrame | None = None,
    ) -> None:
        """Fold canonical frames: new declarations (with their ENS) and control results."""
        lodged = _times(None if declarations is None else declarations["lodged_at"])
        self._folding(
            lambda: self.pipeline.update(declarations, controls, ens_filings, ens_items),
            lodged,
            controls,
        )

    def fold_records(
        self, records: Sequence[dict[str, Any]], controls: pd.DataFrame | None = None
    ) -> None:
        """Fold canonical declaration dicts (ENS embedded, as the API takes them)."""
        inputs = inputs_from_records(list(records), with_ens=self.pipeline.with_ens())
        self.fold_inputs(inputs, controls)

    def fold_inputs(self, inputs: Inputs, controls: pd.DataFrame | None = None) -> None:
        """Fold rows prepared for scoring (``inputs_from_records``): a server folds the
        inputs it scored instead of building them twice."""
        self._folding(lambda: self.pipeline.update_inputs(inputs, controls), inputs.time, controls)

    def _folding(
        self, update: Callable[[], object], lodged: np.ndarray, controls: pd.DataFrame | None
    ) -> None:
        """Run one pipeline update and account for it: late rows, counts (resent
        declarations are skipped by the pipeline), the state's latest fact."""
        known = _times(None if controls is None else controls["controlled_at"])
        self._note_late(lodged)
        skipped = getattr(self.pipeline, "skipped_declarations_", 0)
        update()
        resent = getattr(self.pipeline, "skipped_declarations_", 0) - skipped
        self._advance(len(lodged) - resent, len(known), lodged, known)

    def _note_late(self, lodged: np.ndarray) -> None:
        late = int((lodged < self.meta.state_end - DAY).sum()) if len(lodged) else 0
        if late:
            self.meta.late_declarations += late
            logger.warning(
                "%d declarations lodged over a day before the state's latest fact were folded"
                " late: rows scored before them did not see them",
                late,
            )

    def _advance(
        self, declarations: int, controls: int, lodged: np.ndarray, known: np.ndarray
    ) -> None:
        self.meta.folded_declarations += max(declarations, 0)
        self.meta.folded_controls += controls
        latest = [int(t.max()) for t in (lodged, known) if len(t)]
        if latest:
            self.meta.state_end = max(self.meta.state_end, *latest)

    def stale_days(self, times: np.ndarray) -> float:
        """Days the latest of ``times`` lies past the state's latest fact."""
        return rows_past(self.meta.state_end, times)

    # ----- persistence ---------------------------------------------------------------
    def save(self, root: Path, keep: int = 2) -> Path:
        """Write a new generation under ``root/<source>`` and make it current (atomic; two
        processes saving at once each write their own generation, the later one wins)."""
        home = Path(root) / self.meta.source
        home.mkdir(parents=True, exist_ok=True)
        previous = _current(home)
        number = 0 if previous is None else int(previous.name.split("-")[0]) + 1
        work = Path(tempfile.mkdtemp(dir=home, prefix=".saving-"))
        try:
            self.meta.saved_at = datetime.now(UTC).isoformat()
            self.pipeline.save(work / PIPELINE_DIR)
            (work / META).write_text(json.dumps(self.meta.to_dict(), indent=1))
            target = home / f"{number:08d}-{os.getpid()}"
            if target.exists():
                shutil.rmtree(target)
            os.rename(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        pointer = home / f".{CURRENT}.{os.getpid()}.tmp"
        pointer.write_text(target.name)
        os.replace(pointer, home / CURRENT)
        generations = sorted(p for p in home.iterdir() if p.is_dir() and p.name[:1].isdigit())
        for old in generations[:-keep]:
            if old.name != target.name:
                shutil.rmtree(old, ignore_errors=True)
        return target

    @classmethod
    def load(
        cls, root: Path, source: str, blocks: Sequence[FeatureBlock] | None = None
    ) -> LiveState | None:
        """The current generation saved for ``source`` under ``root``; None if there is none."""
        found = _current(Path(root) / source)
        if found is None:
            return None
        meta = LiveMeta.from_dict(json.loads((found / META).read_text()))
        if meta.source != source:
            raise ValueError(f"{found}: live state of {meta.source!r}, not {source!r}")
        return cls(FeaturePipeline.load(found / PIPELINE_DIR, blocks=blocks), meta)


def _current(home: Path) -> Path | None:
    pointer = home / CURRENT
    if not pointer.is_file():
        return None
    found = home / pointer.read_text().strip()
    return found if (found / META).is_file() else None


__all__ = ["STALE_AFTER_DAYS", "LiveMeta", "LiveState", "rows_past"]
