"""Label columns: only listed values count, and a negative label cannot recover revenue."""

from __future__ import annotations

import pandas as pd
import pytest

from canonical.ingest import IngestError, parse_mapping

MAPPING = """
declarations:
  fields:
    declaration_id: id
    lodged_at: {value: "2025-01-02"}
    importer_id: {value: I1}
    origin_country: {value: CN}
    hs_code: {value: "0406101000"}
    customs_value: {value: 1}
  label: {column: illicit, revenue: rev%s}
"""

LABELS = """\
id,illicit,rev
L1,1.0,500
L2,1,500
L3,?,
L4,0,
L5,positive,100
L6,0.0,
L7,No,
L8,TRUE,
"""


def test_default_values_read_float_exports_and_reject_anything_else(run_ingest) -> None:
    result = run_ingest(MAPPING % "", LABELS)
    ctrl = result.tables["controls"]
    assert ctrl["declaration_id"].tolist() == ["L1", "L2", "L4", "L6", "L7", "L8"]
    assert ctrl["outcome"].tolist() == [
        "irregularity",
        "irregularity",
        "no_irregularity",
        "no_irregularity",
        "no_irregularity",
        "irregularity",
    ]
    assert result.rejects[["source_row", "field", "column", "value", "reason"]].values.tolist() == [
        [3, "outcome", "illicit", "?", "unknown_code"],
        [5, "outcome", "illicit", "positive", "unknown_code"],
    ]


def test_custom_positive_values_keep_the_default_negatives(run_ingest) -> None:
    result = run_ingest(MAPPING % ", positive: [hit]", "id,illicit,rev\nA,hit,\nB,n,\nC,1,\n")
    assert result.tables["controls"]["outcome"].tolist() == ["irregularity", "no_irregularity"]
    assert result.rejects[["source_row", "value", "reason"]].values.tolist() == [
        [3, "1", "unknown_code"]
    ]


def test_negative_label_with_revenue_is_rejected(run_ingest) -> None:
    csv = "id,illicit,rev\nK1,1,50\nK2,0,\nK3,0,300\nK4,0,0\n"
    result = run_ingest(MAPPING % "", csv)
    assert result.tables["controls"]["declaration_id"].tolist() == ["K1", "K2", "K4"]
    assert result.rejects[["source_row", "field", "column", "value", "reason"]].values.tolist() == [
        [3, "revenue_recovered", "rev", "300", "inconsistent_label"]
    ]
    table = result.report["tables"]["declarations"]
    assert table["rejected_by_reason"] == {"inconsistent_label": 1}


def test_known_after_delays_controlled_at(run_ingest) -> None:
    mapping = (MAPPING % "").replace("revenue: rev}", "revenue: rev, known_after: 30d}")
    result = run_ingest(mapping, "id,illicit,rev\nA,1,5\nB,0,\n")
    decl, ctrl = result.tables["declarations"], result.tables["controls"]
    assert (ctrl["controlled_at"] - decl["lodged_at"]).tolist() == [pd.Timedelta(days=30)] * 2


def test_label_known_at_lodging_by_default(run_ingest) -> None:
    result = run_ingest(MAPPING % "", "id,illicit,rev\nA,1,5\n")
    ctrl, decl = result.tables["controls"], result.tables["declarations"]
    assert ctrl["controlled_at"].tolist() == decl["lodged_at"].tolist()


@pytest.mark.parametrize("value", ["30", "2w", "-1d", "1.5d"])
def test_known_after_must_be_days_or_hours(value: str) -> None:
    text = (MAPPING % "").replace("revenue: rev}", f"revenue: rev, known_after: {value!r}}}")
    with pytest.raises(IngestError, match="known_after must be like 30d or 36h"):
        parse_mapping(text)


def test_scoring_ignores_the_label_section_of_the_training_mapping(tmp_path) -> None:
    """``targeting score`` reads files without the label column through the mapping that
    trained the model: ``use_label=False`` drops the section instead of failing."""
    from canonical.frames import read_dataset
    from canonical.ingest import ingest_files

    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING % "")
    unlabelled = tmp_path / "new.csv"
    unlabelled.write_text("id\nN1\nN2\n")
    with pytest.raises(IngestError, match="illicit"):
        ingest_files(unlabelled, mapping, tmp_path / "strict")
    summary = ingest_files(unlabelled, mapping, tmp_path / "out", use_label=False)
    tables = read_dataset(tmp_path / "out")
    assert list(tables["declarations"].declaration_id) == ["N1", "N2"]
    assert "controls" not in tables
    assert summary.tables["declarations"].accepted == 2
