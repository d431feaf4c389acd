"""Where training and scoring data come from: a canonical directory, or an
administration's own files ingested through a mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from canonical.frames import read_dataset
from canonical.ingest import IngestSummary, ingest_files


def canonical_frames(directory: Path) -> dict[str, pd.DataFrame]:
    """The canonical tables in ``directory`` (as written by generate or ingest)."""
    frames = read_dataset(directory)
    if "declarations" not in frames:
        raise FileNotFoundError(f"{directory}: no declarations.parquet")
    return frames


def ingested_frames(
    declarations: Path,
    mapping: Path,
    work: Path,
    controls: Path | None = None,
    ens: Path | None = None,
    use_label: bool = True,
) -> tuple[dict[str, pd.DataFrame], IngestSummary]:
    """Ingest source files through ``mapping`` into ``work`` and read them back
    (``use_label=False``: scoring, the mapping's label section is ignored)."""
    summary = ingest_files(
        declarations, mapping, work, ens=ens, controls=controls, use_label=use_label
    )
    return canonical_frames(work), summary
