"""The DATE-style import table with docs/examples/date_mapping.yaml, and label-derived controls."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from canonical.frames import read_dataset
from canonical.ingest import ingest_files

DATE_MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "date_mapping.yaml"

DATE_CSV = """\
sgd.id,sgd.date,importer.id,declarant.id,country,office.id,tariff.code,quantity,gross.weight,fob.value,cif.value,total.taxes,illicit,revenue
SGD1,13-01-02,IMP826164,DEC955078,CN,OFFICE0,8703241128,1,1500,2500,2809,647,0,0
SGD2,13-01-02,IMP837219,DEC464812,JP,OFFICE0,8703232926,2,2600.5,250000,266140,3262,1,4200.5
SGD3,13-01-03,IMP117406,DEC695848,US,OFFICE1,406101000,10,120,280000,302275,5612,0,
SGD4,13-01-03,IMP435108,DEC955078,CNTRY680,OFFICE1,8703222900,1,900,4000,4160,514,1,100
SGD5,13-01-04,IMP717900,DEC464812,KR,OFFICE0,8545200000,3,40,5000,5200,700,maybe,0
"""


def test_date_table_ingests_with_the_example_mapping(tmp_path):
    source = tmp_path / "date.csv"
    source.write_text(DATE_CSV)
    summary = ingest_files(source, DATE_MAPPING, tmp_path / "out")
    tables = read_dataset(tmp_path / "out")

    decl = tables["declarations"]
    assert decl["declaration_id"].tolist() == ["SGD1", "SGD2", "SGD3"]
    assert decl["lodged_at"].tolist() == [
        pd.Timestamp("2013-01-02", tz="UTC"),
        pd.Timestamp("2013-01-02", tz="UTC"),
        pd.Timestamp("2013-01-03", tz="UTC"),
    ]
    assert decl["hs_code"].tolist() == ["8703241128", "8703232926", "0406101000"]
    assert decl["origin_country"].tolist() == ["CN", "JP", "US"]
    assert decl["office"].tolist() == ["OFFICE0", "OFFICE0", "OFFICE1"]
    assert decl["net_mass_kg"].tolist() == [1500.0, 2600.5, 120.0]
    assert decl["supplementary_units"].tolist() == [1.0, 2.0, 10.0]
    assert decl["customs_value"].tolist() == [2809.0, 266140.0, 302275.0]
    assert decl["customs_value_rc"].tolist() == [2809.0, 266140.0, 302275.0]
    assert decl["currency"].tolist() == ["EUR"] * 3
    assert decl["extra_num__fob_value"].tolist() == [2500.0, 250000.0, 280000.0]
    assert decl["extra_num__total_taxes"].tolist() == [647.0, 3262.0, 5612.0]

    ctrl = tables["controls"]
    assert ctrl["control_id"].tolist() == ["label:SGD1", "label:SGD2", "label:SGD3"]
    assert ctrl["declaration_id"].tolist() == ["SGD1", "SGD2", "SGD3"]
    assert ctrl["controlled_at"].tolist() == decl["lodged_at"].tolist()
    assert ctrl["outcome"].tolist() == ["no_irregularity", "irregularity", "no_irregularity"]
    assert ctrl["risk_type"].tolist()[1] == "other"
    assert ctrl["risk_type"].isna().tolist() == [True, False, True]
    assert ctrl["revenue_recovered"].tolist() == [0.0, 4200.5, 0.0]
    assert ctrl["propensity"].tolist() == [1.0, 1.0, 1.0]
    assert set(ctrl["control_type"]) == {"unknown"}
    assert set(ctrl["selection_basis"]) == {"unknown"}

    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str)
    assert rejects[["source_row", "field", "column", "value", "reason"]].values.tolist() == [
        ["4", "origin_country", "country", "CNTRY680", "unknown_country"],
        ["5", "outcome", "illicit", "maybe", "unknown_code"],
    ]
    report = summary.to_dict()["tables"]
    assert report["declarations"]["rejected_by_reason"] == {
        "unknown_country": 1,
        "unknown_code": 1,
    }
    assert report["controls"]["written"] == {"controls": 3}
    assert "declarations  read 5  accepted 3  rejected 2" in summary.render()


def test_label_without_revenue_and_default_positive_values(run_ingest):
    mapping = """
    declarations:
      fields:
        declaration_id: id
        lodged_at: d
        importer_id: {value: I}
        origin_country: {value: CN}
        hs_code: {value: "847130"}
        customs_value: {value: 1}
      label: {column: hit}
    """
    result = run_ingest(mapping, "id,d,hit\nA,2024-01-01,Yes\nB,2024-01-02,no\nC,2024-01-03,\n")
    ctrl = result.tables["controls"]
    assert ctrl["outcome"].tolist() == ["irregularity", "no_irregularity"]
    assert ctrl["revenue_recovered"].tolist() == [0.0, 0.0]
    assert result.rejects[["source_row", "field", "reason"]].values.tolist() == [
        [3, "outcome", "missing_required"]
    ]
