"""Canonical Parquet validated through the identity mapping: a clean world comes back
unchanged (declarations and ENS), and bad rows are refused like any source's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from canonical.frames import read_dataset, write_table
from canonical.ingest.canonical_source import ingest_canonical
from synth import WorldConfig, generate_world, write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("canonical-world")
    generated = generate_world(WorldConfig(seed=4, days=15, declarations_per_day=120))
    write_world(generated, out)
    return out, generated


def test_a_clean_world_comes_back_unchanged(world, tmp_path: Path) -> None:
    directory, generated = world
    summary = ingest_canonical(
        directory / "declarations.parquet", tmp_path / "out", ens=directory / "ens_filings.parquet"
    )
    assert summary.field_failures == 0
    back = read_dataset(tmp_path / "out")
    for name in ("declarations", "ens_filings", "ens_items"):
        pd.testing.assert_frame_equal(back[name], generated.frame(name), obj=name)
    assert not list(tmp_path.glob("*-ens-flat.parquet"))  # the flattened copy is removed


def test_bad_ens_items_are_rejected_and_their_filing_kept(world, tmp_path: Path) -> None:
    directory, generated = world
    items = generated.frame("ens_items").copy()
    items.loc[items.index[3], "hs6"] = "12"
    write_table(generated.frame("ens_filings"), "ens_filings", tmp_path / "ens_filings.parquet")
    write_table(items, "ens_items", tmp_path / "ens_items.parquet")
    summary = ingest_canonical(
        directory / "declarations.parquet", tmp_path / "out", ens=tmp_path / "ens_filings.parquet"
    )
    back = read_dataset(tmp_path / "out")
    assert len(back["ens_items"]) == len(items) - 1
    assert len(back["ens_filings"]) == len(generated.frame("ens_filings"))
    assert summary.tables["ens"].rejected == 1
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str)
    assert rejects[["table", "field", "value", "reason"]].values.tolist() == [
        ["ens", "hs6", "12", "malformed_hs_code"]
    ]
