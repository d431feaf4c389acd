"""Flattened ENS files split into filings and items; Parquet sources with typed columns."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from canonical.ingest import ingest_files

MAPPING = """
declarations:
  fields:
    declaration_id: REF
    lodged_at: TS
    importer_id: IMP
    origin_country: ORIG
    hs_code: HS
    customs_value: VAL
    ens_id: ENS
ens:
  fields:
    filing_id: ENS
    version: VER
    filed_at: FILED
    filing_type: {value: full}
    transport_mode: {column: MODE, values: {"4": air}}
    carrier_id: CARRIER
    carrier_aeo: AEO
    hs6: {column: HS6, zfill: 6}
    gross_mass_kg: {column: KG}
    packages: PKG
    item_no: ITEM
  extra:
    categorical: {lane: LANE}
"""

DECLARATIONS = """\
REF,TS,IMP,ORIG,HS,VAL,ENS
D1,2024-01-02,I1,CN,847130,1,E1
D2,2024-01-02,I1,CN,847130,1,NOPE
"""


def test_versions_items_and_unknown_ens_reference(run_ingest):
    ens = "\n".join(
        [
            "ENS,VER,FILED,MODE,CARRIER,AEO,HS6,KG,PKG,ITEM,LANE",
            "E1,1,2024-01-01 08:00:00,4,C1,true,847130,10.5,2,1,green",
            "E1,1,2024-01-01 08:00:00,4,C1,true,40610,3,1.0,2,green",
            "E1,2,2024-01-01 09:00:00,4,C1,true,847130,10.5,2,1,red",
            "E1,2,2024-01-01 09:00:00,4,C1,true,847130,10.5,2,1,red",
            "E2,1,2024-01-01 10:00:00,4,C2,0,847130,1,-2,1,green",
        ]
    )
    result = run_ingest(MAPPING, DECLARATIONS, ens=ens)
    # a declaration whose ENS is not in the file is kept
    assert result.tables["declarations"]["ens_id"].tolist() == ["E1", "NOPE"]
    filings = result.tables["ens_filings"]
    assert filings[["filing_id", "version"]].values.tolist() == [["E1", 1], ["E1", 2], ["E2", 1]]
    assert filings["extra_cat__lane"].tolist() == ["green", "red", "green"]
    assert filings["carrier_aeo"].tolist() == [True, True, False]
    assert filings["filing_type"].tolist() == ["full"] * 3
    items = result.tables["ens_items"]
    assert items[["filing_id", "version", "item_no", "hs6", "packages"]].values.tolist() == [
        ["E1", 1, 1, "847130", 2],
        ["E1", 1, 2, "040610", 1],
        ["E1", 2, 1, "847130", 2],
    ]
    assert result.rejects[["source_row", "field", "value", "reason"]].values.tolist() == [
        [4, "item_no", "E1/2/1", "duplicate_id"],
        [5, "packages", "-2", "negative_value"],
    ]


def test_unmapped_version_and_item_no_get_defaults(run_ingest):
    mapping = MAPPING.replace("    version: VER\n", "").replace("    item_no: ITEM\n", "")
    ens = "\n".join(
        [
            "ENS,FILED,MODE,CARRIER,AEO,HS6,KG,PKG,LANE",
            "E1,2024-01-01 08:00:00,air,C1,,847130,1,1,",
            "E2,2024-01-01 08:00:00,air,C1,,847130,1,1,",
            "E1,2024-01-01 08:00:00,air,C1,,610910,1,1,",
            "E1,2024-01-01 08:00:00,air,C1,,040610,1,1,",
        ]
    )
    result = run_ingest(mapping, DECLARATIONS, ens=ens)
    items = result.tables["ens_items"]
    assert items[["filing_id", "version", "item_no", "hs6"]].values.tolist() == [
        ["E1", 1, 1, "847130"],
        ["E2", 1, 1, "847130"],
        ["E1", 1, 2, "610910"],
        ["E1", 1, 3, "040610"],
    ]
    assert result.tables["ens_filings"]["filing_id"].tolist() == ["E1", "E2"]
    assert len(result.rejects) == 0


def test_parquet_source_with_typed_columns(tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    table = pa.table(
        {
            "REF": ["D1", "D2"],
            "TS": pa.array(
                [dt.datetime(2024, 1, 2, 10, 30), dt.datetime(2024, 1, 3)], pa.timestamp("us")
            ),
            "IMP": ["I1", "I2"],
            "ORIG": pa.array(["CN", "US"]).dictionary_encode(),
            "HS": pa.array([8471300000, 406101000], pa.int64()),
            "VAL": pa.array([0.1 + 0.2, 1e-7]),
            "ENS": [None, "E9"],
        }
    )
    path = tmp_path / "decl.pq"
    pq.write_table(table, path)
    summary = ingest_files(path, mapping, tmp_path / "out")
    decl = pd.read_parquet(tmp_path / "out" / "declarations.parquet")
    assert summary.tables["declarations"].accepted == 2
    assert decl["lodged_at"].tolist() == [
        pd.Timestamp("2024-01-02 10:30", tz="UTC"),
        pd.Timestamp("2024-01-03", tz="UTC"),
    ]
    assert decl["origin_country"].tolist() == ["CN", "US"]
    assert decl["hs_code"].tolist() == ["8471300000", "406101000"]
    assert decl["customs_value"].tolist() == [0.1 + 0.2, 1e-7]
    assert decl["ens_id"].tolist() == [None, "E9"]
