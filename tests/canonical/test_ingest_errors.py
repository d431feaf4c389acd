"""Malformed input raises IngestError naming the problem and place, and writes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from canonical.ingest import IngestError, ingest_files

MAPPING = """
declarations:
  fields:
    declaration_id: REF
    lodged_at: TS
    importer_id: IMP
    origin_country: ORIG
    hs_code: HS
    customs_value: VAL
    description: DESC
controls:
  fields:
    control_id: CID
    declaration_id: REF
    controlled_at: TS
    outcome: RES
"""

CSV = """\
REF,TS,IMP,ORIG,HS,VAL,DESC
D1,2024-01-02,I1,CN,847130,1,Käse
D2,2024-01-02,I2,CN,847130,2,Bière
"""


@pytest.fixture
def files(tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return tmp_path, mapping


def test_non_utf8_bytes_name_line_and_column(files):
    tmp, mapping = files
    path = tmp / "decl.csv"
    path.write_bytes(CSV.encode("latin-1"))
    with pytest.raises(IngestError, match=r"decl\.csv: bad encoding.*line 2, column 31.*encoding:"):
        ingest_files(path, mapping, tmp / "out")
    assert not (tmp / "out").exists()


def test_bad_bytes_in_header(files):
    tmp, mapping = files
    path = tmp / "decl.csv"
    path.write_bytes(b"REF,T\xffS\n")
    with pytest.raises(IngestError, match=r"bad encoding.*line 1, column 6"):
        ingest_files(path, mapping, tmp / "out")


def test_declared_encoding_is_used(files):
    tmp, mapping = files
    mapping.write_text(MAPPING.replace("declarations:\n", "declarations:\n  encoding: latin-1\n"))
    path = tmp / "decl.csv"
    path.write_bytes(CSV.encode("latin-1"))
    ingest_files(path, mapping, tmp / "out")
    decl = pd.read_parquet(tmp / "out" / "declarations.parquet")
    assert decl["description"].tolist() == ["Käse", "Bière"]


def test_utf16_file_with_declared_encoding_is_read(files):
    tmp, mapping = files
    mapping.write_text(MAPPING.replace("declarations:\n", "declarations:\n  encoding: utf-16\n"))
    path = tmp / "decl.csv"
    path.write_bytes(CSV.replace("\n", "\r\n").encode("utf-16"))
    ingest_files(path, mapping, tmp / "out")
    decl = pd.read_parquet(tmp / "out" / "declarations.parquet")
    assert decl["declaration_id"].tolist() == ["D1", "D2"]
    assert decl["description"].tolist() == ["Käse", "Bière"]


def test_ragged_rows_name_the_line(files):
    tmp, mapping = files
    path = tmp / "decl.csv"
    path.write_text(CSV + "D3,2024-01-02,I3,CN,847130\nD4,2024-01-02,I4,CN,847130,4,x,extra\n")
    with pytest.raises(
        IngestError, match=r"ragged row at line 4: expected 7 fields, found 5.*1 more.*lines 5"
    ):
        ingest_files(path, mapping, tmp / "out")


def test_missing_mapped_column_lists_available_columns(files):
    tmp, mapping = files
    path = tmp / "decl.csv"
    path.write_text(CSV.replace("ORIG", "ORIGIN"))
    with pytest.raises(
        IngestError, match=r"missing from the file: 'ORIG'; available columns: 'REF', 'TS'"
    ):
        ingest_files(path, mapping, tmp / "out")


def test_unreadable_parquet(files):
    tmp, mapping = files
    path = tmp / "decl.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(IngestError, match=r"decl\.parquet: unreadable Parquet file"):
        ingest_files(path, mapping, tmp / "out")


def test_parquet_missing_column(files):
    tmp, mapping = files
    path = tmp / "decl.parquet"
    pd.DataFrame({"REF": ["D1"], "TS": ["2024-01-01"]}).to_parquet(path)
    with pytest.raises(IngestError, match=r"missing from the file: 'IMP', 'ORIG'"):
        ingest_files(path, mapping, tmp / "out")


def test_file_not_found(files):
    tmp, mapping = files
    with pytest.raises(IngestError, match=r"nope\.csv: file not found"):
        ingest_files(tmp / "nope.csv", mapping, tmp / "out")
    with pytest.raises(IngestError, match=r"mapping file not found"):
        ingest_files(tmp / "nope.csv", tmp / "nope.yaml", tmp / "out")


def test_bad_yaml_option(files):
    tmp, mapping = files
    mapping.write_text(MAPPING.replace("HS\n", "{column: HS, zfil: 10}\n"))
    path = tmp / "decl.csv"
    path.write_text(CSV)
    with pytest.raises(IngestError, match=r"declarations\.fields\.hs_code\.zfil: unknown option"):
        ingest_files(path, mapping, tmp / "out")


def test_file_without_section(files):
    tmp, mapping = files
    path = tmp / "decl.csv"
    path.write_text(CSV)
    with pytest.raises(IngestError, match=r"no `ens:` section"):
        ingest_files(path, mapping, tmp / "out", ens=path)


def test_label_and_controls_file_together_are_ambiguous(files):
    tmp, mapping = files
    mapping.write_text(MAPPING.replace("controls:", "  label: {column: VAL}\ncontrols:"))
    path = tmp / "decl.csv"
    path.write_text(CSV)
    controls = tmp / "controls.csv"
    controls.write_text("CID,REF,TS,RES\nC1,D1,2024-01-03,irregularity\n")
    with pytest.raises(IngestError, match=r"ambiguous labels"):
        ingest_files(path, mapping, tmp / "out", controls=controls)
