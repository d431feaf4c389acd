"""The training matrix on Dask (``targeting train --dask``): point-in-time features of the
history computed by time blocks on the workers.

The client fits the feature state on the whole history (a sequential fold: the state is
carried through time), saves it once, and each worker loads it once and transforms its
blocks of rows. Exact: a row's features read only facts strictly before it, so the state
fitted on the whole history gives every block the features a sequential pass gives it
(tested equal to ``FeaturePipeline.transform_inputs`` on the whole history).
"""

from __future__ import annotations

import functools
import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from features.inputs import Inputs
from features.pipeline import FeaturePipeline
from graph.pipeline_blocks import all_blocks

ROWS_PER_BLOCK = 50_000


@functools.lru_cache(maxsize=1)
def _pipeline(path: str) -> FeaturePipeline:
    """A worker's copy of the fitted state, loaded once per job."""
    return FeaturePipeline.load(Path(path), blocks=all_blocks())


def _transform_block(path: str, block: Inputs) -> np.ndarray:
    return _pipeline(path).transform_inputs(block)


def transform_blocks(
    client: Any,
    pipeline: FeaturePipeline,
    inputs: Inputs,
    work: Path | None = None,
    rows_per_block: int = ROWS_PER_BLOCK,
) -> np.ndarray:
    """``pipeline.transform_inputs(inputs)`` computed by blocks of consecutive rows on the
    Dask ``client``'s workers. ``work``: a folder every worker reads (shared storage on a
    cluster) where the fitted state is saved for them; a temporary one when None."""
    if work is not None:
        Path(work).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="targeting-state-", dir=work))
    try:
        pipeline.save(folder / "pipeline")
        path = str(folder / "pipeline")
        bounds = [*list(range(0, inputs.n, max(int(rows_per_block), 1))), inputs.n]
        blocks = [inputs.take(np.arange(lo, hi)) for lo, hi in itertools.pairwise(bounds)]
        futures = client.map(_transform_block, [path] * len(blocks), blocks, pure=False)
        parts = client.gather(futures)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not parts:
        return np.zeros((0, len(pipeline.spec_.names)), dtype=np.float32)
    return np.vstack(parts)


def history_matrix(
    pipeline: FeaturePipeline, inputs: Inputs, client: Any = None, work: Path | None = None
) -> np.ndarray:
    """The point-in-time matrix of ``inputs`` (a fitted history): in this process, or by
    blocks on the Dask ``client``'s workers (``transform_blocks``), the same matrix."""
    if client is None:
        return pipeline.transform_inputs(inputs)
    return transform_blocks(client, pipeline, inputs, work)
