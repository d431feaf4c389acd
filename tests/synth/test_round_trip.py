"""Generate -> export under foreign column names -> ingest -> the same canonical tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from canonical.frames import read_dataset
from canonical.ingest import ingest_files, load_mapping
from synth import WorldConfig, generate_world
from synth.export import export_source_files

MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "world_csv_mapping.yaml"


def test_round_trip_through_foreign_csv(tmp_path: Path) -> None:
    world = generate_world(WorldConfig(seed=5, days=21, declarations_per_day=300))
    mapping = load_mapping(MAPPING)
    files = export_source_files(world, mapping, tmp_path / "source")
    header = files["declarations"].read_text().splitlines()[0]
    assert "DECL_REF" in header
    assert "declaration_id" not in header
    summary = ingest_files(
        files["declarations"],
        MAPPING,
        tmp_path / "canonical",
        ens=files["ens"],
        controls=files["controls"],
    )
    back = read_dataset(tmp_path / "canonical")
    for name in world.tables:
        expected = world.frame(name)
        got = back[name]
        if name in ("ens_filings", "ens_items"):
            keys = ["filing_id", "version"] + (["item_no"] if name == "ens_items" else [])
            expected = expected.sort_values(keys).reset_index(drop=True)
            got = got.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
    for report in summary.tables.values():
        assert report.rejected == 0


@pytest.mark.parametrize("scale_field", ["net_mass_kg", "duty_rate"])
def test_export_applies_the_inverse_unit(tmp_path: Path, scale_field: str) -> None:
    world = generate_world(WorldConfig(seed=5, days=7, declarations_per_day=50))
    files = export_source_files(world, load_mapping(MAPPING), tmp_path)
    source = pd.read_csv(files["declarations"], dtype=str)
    column = {"net_mass_kg": "NET_MASS_G", "duty_rate": "DUTY_RATE_PCT"}[scale_field]
    factor = {"net_mass_kg": 1000, "duty_rate": 100}[scale_field]
    original = world.frame("declarations")[scale_field].to_numpy()
    assert source[column].astype(float).to_numpy() == pytest.approx(original * factor)
