"""The output folder holds exactly this run's tables, whatever an earlier run left there."""

from __future__ import annotations

from pathlib import Path

from canonical.frames import read_dataset
from canonical.ingest import ingest_files

MAPPING = """\
declarations:
  fields:
    declaration_id: REF
    lodged_at: TS
    importer_id: {value: I1}
    origin_country: {value: CN}
    hs_code: {value: "847130"}
    customs_value: {value: 1}
controls:
  fields:
    control_id: CID
    declaration_id: REF
    controlled_at: TS
    outcome: RES
"""


def test_ingest_again_into_the_same_folder_drops_the_earlier_tables(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    decl = tmp_path / "decl.csv"
    decl.write_text("REF,TS\nD1,2024-01-02\nD2,2024-01-03\n")
    controls = tmp_path / "controls.csv"
    controls.write_text("CID,REF,TS,RES\nC1,D1,2024-01-05,irregularity\n")
    out = tmp_path / "out"
    ingest_files(decl, mapping, out, controls=controls)
    assert set(read_dataset(out)) == {"declarations", "controls"}

    decl.write_text("REF,TS\nD3,2024-02-01\n")
    summary = ingest_files(decl, mapping, out)

    tables = read_dataset(out)
    assert set(tables) == {"declarations"}
    assert tables["declarations"]["declaration_id"].tolist() == ["D3"]
    assert not (out / "controls.parquet").exists()
    assert "controls.parquet" not in {p.name for p in summary.files}
