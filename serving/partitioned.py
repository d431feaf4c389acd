"""Batch scoring of partitioned Parquet on a Dask cluster (``targeting score --dask``).

Three stages, so that no process holds every partition:

1. each partition is validated row by row on a worker (the per-row checks of ``ingest``)
   into canonical tables in a work folder, its refused rows into ``<name>.rejects.csv``;
2. the client folds the partitions into the model's live feature state in lodging order,
   one partition in memory at a time, and saves the state (a new generation);
3. each worker loads that saved generation once and scores its partitions, one Parquet
   file of scores per partition.

Exact, with no delay: every feature reads only facts strictly before its row, so a row
gets the same features from the state holding every partition as from a state holding
only what was lodged before it. That is the property the single-process command relies
on when it folds a whole file before scoring it; scores equal the single-process ones.
What a worker holds is the feature state (an index of the history per key, about 2 KB per
declaration folded) plus one partition: see docs/scale-out.md for the limit this sets.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from canonical.frames import read_dataset
from canonical.ingest import REJECTS_FILE
from canonical.ingest.canonical_source import ingest_canonical
from features.live import PIPELINE_DIR, LiveState
from features.pipeline import FeaturePipeline
from graph.block import GraphBlock, PeriodMapper
from graph.pipeline_blocks import all_blocks
from models.bundle import FEATURES_DIR, read_bundle
from serving.ens_status import NOT_SENT
from serving.scoring import Scorer, served_table

DECLARATIONS_FILE = "declarations.parquet"
ENS_FILE = "ens_filings.parquet"  # its ens_items.parquet beside it
WORK_DIR = "_canonical"


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@dataclass(frozen=True)
class Partition:
    """One partition of the input: a canonical declarations file, its ENS if any."""

    name: str
    declarations: Path
    ens: Path | None = None


def find_partitions(source: Path) -> list[Partition]:
    """The partitions under ``source``: each ``*.parquet`` file directly in it (declarations
    only), and each sub-folder holding a ``declarations.parquet`` (with ``ens_filings.parquet``
    and ``ens_items.parquet`` beside it when the declarations link ENS filings)."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: --dask scores a folder of Parquet partitions")
    found = [Partition(p.stem, p) for p in sorted(source.glob("*.parquet"))]
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if (folder / DECLARATIONS_FILE).is_file():
            ens = folder / ENS_FILE
            found.append(
                Partition(folder.name, folder / DECLARATIONS_FILE, ens if ens.is_file() else None)
            )
    if not found:
        raise FileNotFoundError(
            f"{source}: no partition (*.parquet, or folders with {DECLARATIONS_FILE})"
        )
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: two partitions share a name: {sorted(names)}")
    return found


@dataclass
class IngestedPartition:
    """What stage 1 made of a partition: its canonical folder and its row counts."""

    name: str
    canonical: Path
    read: int
    accepted: int
    rejected: int
    reasons: dict[str, int]
    first_lodged: int | None  # seconds; orders the fold


def ingest_partition(part: Partition, work: Path, rejects: Path) -> IngestedPartition:
    """Stage 1 (on a worker): the per-row checks of ``ingest`` into ``work/<name>``."""
    target = Path(work) / part.name
    summary = ingest_canonical(part.declarations, target, ens=part.ens)
    Path(rejects).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target / REJECTS_FILE, Path(rejects) / f"{part.name}.rejects.csv")
    report = summary.tables["declarations"]
    first = None
    if report.accepted:
        lodged = pq.read_table(target / DECLARATIONS_FILE, columns=["lodged_at"]).column(0)
        first = int(pd.Timestamp(lodged.to_pandas().min()).timestamp())
    return IngestedPartition(
        name=part.name,
        canonical=target,
        read=report.read,
        accepted=report.accepted,
        rejected=report.rejected,
        reasons=dict(report.rejected_by_reason),
        first_lodged=first,
    )


def fold_partitions(
    live: LiveState, parts: Sequence[IngestedPartition], controls: pd.DataFrame | None
) -> None:
    """Stage 2 (on the client): fold the partitions into ``live`` in order of their first
    lodging time, one in memory at a time; the control results with the first. A
    partition with ENS filings and no valid declaration still folds its filings. The
    order only saves work: the state folded is the same in any order (tested)."""
    ordered = sorted(parts, key=lambda p: (p.first_lodged is not None, p.first_lodged or 0))
    pending = controls
    for part in ordered:
        frames = read_dataset(part.canonical)
        d = frames["declarations"].sort_values("lodged_at", kind="stable")
        live.fold(d, pending, frames.get("ens_filings"), frames.get("ens_items"))
        pending = None
    if pending is not None:
        live.fold(None, pending)


def dask_mapper(client: Any) -> PeriodMapper:
    """Runs ``fn(item, shared)`` for every item on the workers, ``shared`` sent once to each."""

    def run(fn: Callable[[Any, Any], Any], items: list[Any], shared: Any) -> list[Any]:
        if not items:
            return []
        sent = client.scatter(shared, broadcast=True)
        return list(client.gather(client.map(fn, items, shared=sent, pure=False)))

    return run


def refresh_graph(pipeline: FeaturePipeline, mapper: PeriodMapper) -> None:
    """Compute the party graph's stale snapshots through ``mapper`` (one task per run of
    periods with the same pairs); a pipeline without the graph block has none."""
    for block in pipeline.blocks:
        if isinstance(block, GraphBlock):
            block.refresh(mapper)


@dataclass
class ScoredPartition:
    """What stage 3 wrote for a partition."""

    name: str
    rows: int
    not_sent: int
    peak_rss: int
    worker_pid: int


@functools.lru_cache(maxsize=1)
def _scorer(bundle: str, pipeline: str, device: str, threads: int) -> Scorer:
    """The scorer of a worker process, loaded once for the job's bundle and state."""
    state = FeaturePipeline.load(Path(pipeline), blocks=all_blocks())
    return Scorer(read_bundle(Path(bundle)), device=device, threads=threads, pipeline=state)


def score_partition(
    part: IngestedPartition,
    out: Path,
    bundle: Path,
    pipeline: Path,
    reasons: bool = True,
    device: str = "auto",
    threads: int = 1,
) -> ScoredPartition:
    """Stage 3 (on a worker): score one canonical partition into ``out/<name>.parquet``."""
    scorer = _scorer(str(bundle), str(pipeline), device, threads)
    frames = read_dataset(part.canonical)
    d, f = frames["declarations"], frames.get("ens_filings")
    batch = scorer.score_frame(d, f, frames.get("ens_items"), reasons=reasons)
    table = served_table(batch, d, f, rounded=False)
    table.to_parquet(Path(out) / f"{part.name}.parquet", index=False)
    return ScoredPartition(
        name=part.name,
        rows=len(table),
        not_sent=int((table["ens_status"] == NOT_SENT).sum()),
        peak_rss=peak_rss_bytes(),
        worker_pid=os.getpid(),
    )


@dataclass
class PartitionedRun:
    """The outcome of ``score_partitions``: per partition, and the client's own figures."""

    ingested: list[IngestedPartition]
    scored: list[ScoredPartition]
    state: Path | None  # the live state generation saved (None: frozen)
    client_peak_rss: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.scored)

    def worker_peaks(self) -> dict[int, int]:
        """Peak resident memory of each worker process that scored (bytes, by pid)."""
        peaks: dict[int, int] = {}
        for p in self.scored:
            peaks[p.worker_pid] = max(peaks.get(p.worker_pid, 0), p.peak_rss)
        return peaks


def score_partitions(
    client: Any,
    source: Path,
    out: Path,
    bundle: Path,
    live: LiveState | None,
    live_root: Path | None,
    controls: pd.DataFrame | None = None,
    reasons: bool = True,
    device: str = "auto",
) -> PartitionedRun:
    """Score every partition under ``source`` into ``out`` on the Dask ``client``.

    ``live``: the model's live state, folded here and saved under ``live_root``; None
    scores from the bundle's own training-end state and folds nothing (``--frozen``).
    ``source``, ``out`` and the bundle must be on storage every worker reads.
    """
    parts = find_partitions(source)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / WORK_DIR
    began = time.perf_counter()
    ingested = client.gather(
        client.map(ingest_partition, parts, work=work, rejects=out, pure=False)
    )
    after_ingest = time.perf_counter()
    state: Path | None = None
    folded = after_ingest
    if live is not None:
        if live_root is None:
            raise ValueError("a live state needs the folder to save it in")
        fold_partitions(live, ingested, controls)
        folded = time.perf_counter()
        # the graph snapshots the new periods need, on the workers, saved once for them all
        refresh_graph(live.pipeline, dask_mapper(client))
        state = live.save(live_root)
        pipeline = state / PIPELINE_DIR
    else:
        pipeline = read_bundle(bundle).path(FEATURES_DIR)
    after_fold = time.perf_counter()
    todo = [p for p in ingested if p.accepted]
    scored = client.gather(
        client.map(
            score_partition,
            todo,
            out=out,
            bundle=bundle,
            pipeline=pipeline,
            reasons=reasons,
            device=device,
            pure=False,
        )
    )
    done = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    return PartitionedRun(
        ingested=list(ingested),
        scored=list(scored),
        state=state,
        client_peak_rss=peak_rss_bytes(),
        seconds={
            "ingest": after_ingest - began,
            "fold": folded - after_ingest,
            "save": after_fold - folded,
            "score": done - after_fold,
        },
    )


def read_scores(out: Path) -> pd.DataFrame:
    """Every partition's scores under ``out`` as one frame (for reports and tests)."""
    files = sorted(Path(out).glob("*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


__all__ = [
    "IngestedPartition",
    "Partition",
    "PartitionedRun",
    "ScoredPartition",
    "find_partitions",
    "fold_partitions",
    "ingest_partition",
    "read_scores",
    "score_partition",
    "score_partitions",
]
