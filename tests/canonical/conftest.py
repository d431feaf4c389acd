"""Helpers for the ingestion tests: write small fixtures into tmp_path and run an ingest."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from canonical.frames import read_dataset
from canonical.ingest import IngestSummary, ingest_files


@dataclass
class IngestResult:
    """What one ingest run produced."""

    summary: IngestSummary
    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    report: dict


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write dedented text (a CSV or YAML fixture)."""
    path.write_bytes(textwrap.dedent(text).lstrip("\n").encode(encoding))
    return path


def counts_reconcile(report: dict) -> None:
    """read == accepted + rejected and the reasons add up, for every table."""
    for name, table in report["tables"].items():
        assert table["read"] == table["accepted"] + table["rejected"], name
        assert sum(table["rejected_by_reason"].values()) == table["rejected"], name


@pytest.fixture
def run_ingest(tmp_path: Path) -> Callable[..., IngestResult]:
    """Run ``ingest_files`` on fixture texts; returns tables, rejects and the summary JSON."""

    def run(
        mapping: str,
        declarations: str,
        ens: str | None = None,
        controls: str | None = None,
        out: str = "out",
    ) -> IngestResult:
        mapping_path = write_text(tmp_path / "mapping.yaml", mapping)
        decl_path = write_text(tmp_path / "declarations.csv", declarations)
        ens_path = write_text(tmp_path / "ens.csv", ens) if ens is not None else None
        ctrl_path = (
            write_text(tmp_path / "controls.csv", controls) if controls is not None else None
        )
        out_path = tmp_path / out
        summary = ingest_files(decl_path, mapping_path, out_path, ens=ens_path, controls=ctrl_path)
        rejects = pd.read_csv(out_path / "rejects.csv", dtype=str, keep_default_na=False)
        if len(rejects):
            rejects["source_row"] = rejects["source_row"].astype(int)
        report = json.loads((out_path / "ingest_summary.json").read_text())
        counts_reconcile(report)
        return IngestResult(summary, read_dataset(out_path), rejects, report)

    return run
