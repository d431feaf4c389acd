"""HS codes: dots only as group separators, no float tails, no chapter 00 from over-padding."""

from __future__ import annotations

import pytest

MAPPING = """
declarations:
  fields:
    declaration_id: REF
    lodged_at: {value: "2024-01-02"}
    importer_id: {value: I1}
    origin_country: {value: CN}
    hs_code: {column: HS%s}
    customs_value: {value: 1}
"""


def _csv(*codes: str) -> str:
    rows = [f"D{i},{code}" for i, code in enumerate(codes, start=1)]
    return "\n".join(["REF,HS", *rows]) + "\n"


@pytest.mark.parametrize(
    ("code", "stored"),
    [
        ("6109.10.00", "61091000"),
        ("6109.10", "610910"),
        ("8471.30.0100", "8471300100"),
        ("0406.10.10.00", "0406101000"),
        ("6109 10 00", "61091000"),
        ("0406101000", "0406101000"),
    ],
)
def test_group_dots_and_spaces_are_accepted(run_ingest, code: str, stored: str) -> None:
    result = run_ingest(MAPPING % "", _csv(code))
    assert result.rejects.empty
    assert result.tables["declarations"]["hs_code"].tolist() == [stored]


@pytest.mark.parametrize("code", ["610910.0", "406101000.0", "61091000.0", "6109.1", "61.09.10"])
def test_float_tail_or_stray_dot_is_malformed(run_ingest, code: str) -> None:
    result = run_ingest(MAPPING % "", _csv("610910", code))
    assert result.rejects[["source_row", "field", "column", "value", "reason"]].values.tolist() == [
        [2, "hs_code", "HS", code, "malformed_hs_code"]
    ]
    assert result.tables["declarations"]["declaration_id"].tolist() == ["D1"]


def test_float_tail_is_malformed_with_zfill(run_ingest) -> None:
    result = run_ingest(MAPPING % ", zfill: 10", _csv("406101000", "406101000.0"))
    assert result.tables["declarations"]["hs_code"].tolist() == ["0406101000"]
    assert result.rejects[["source_row", "reason"]].values.tolist() == [[2, "malformed_hs_code"]]


def test_code_padded_into_chapter_00_is_malformed(run_ingest) -> None:
    result = run_ingest(MAPPING % ", zfill: 10", _csv("406101000", "61 09 10", "0012345678"))
    assert result.tables["declarations"]["hs_code"].tolist() == ["0406101000"]
    assert result.rejects[["source_row", "field", "value", "reason"]].values.tolist() == [
        [2, "hs_code", "61 09 10", "malformed_hs_code"],
        [3, "hs_code", "0012345678", "malformed_hs_code"],
    ]
