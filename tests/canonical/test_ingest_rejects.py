"""One bad row per rejection reason: it lands in rejects.csv, the good rows are kept."""

from __future__ import annotations

import pytest

MAPPING = """
declarations:
  fields:
    declaration_id: REF
    lodged_at: TS
    importer_id: IMP
    origin_country: ORIG
    hs_code: HS
    customs_value: VAL
    currency: CUR
    net_mass_kg: MASS
    transport_mode: MODE
    importer_aeo: AEO
controls:
  fields:
    control_id: CID
    declaration_id: REF
    controlled_at: TS
    propensity: P
    outcome: RES
ens:
  fields:
    filing_id: EREF
    filed_at: ETS
    filing_type: KIND
    transport_mode: MODE
    carrier_id: CARRIER
    itinerary: ROUTE
    hs6: HS6
"""

HEADER = "REF,TS,IMP,ORIG,HS,VAL,CUR,MASS,MODE,AEO"
GOOD = [
    "D1,2024-01-02T10:00:00,IMP1,CN,8471300000,100.5,USD,12.5,maritime,Y",
    "D2,2024-01-03 11:30:00,IMP2,tr,6109.10.00,20,EUR,1,Air,n",
    "D3,2024-01-04,IMP3,VN,610910,7.25,cny,,road,",
]
GOOD_IDS = ["D1", "D2", "D3"]


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


DECLARATION_CASES = [
    # reason, field, bad row
    ("missing_required", "importer_id", "D9,2024-01-02,,CN,8471300000,1,EUR,1,air,Y"),
    ("missing_required", "declaration_id", ",2024-01-02,IMP9,CN,8471300000,1,EUR,1,air,Y"),
    ("wrong_type", "customs_value", "D9,2024-01-02,IMP9,CN,8471300000,12x,EUR,1,air,Y"),
    ("wrong_type", "importer_aeo", "D9,2024-01-02,IMP9,CN,8471300000,1,EUR,1,air,maybe"),
    ("bad_date", "lodged_at", "D9,2024-13-45,IMP9,CN,8471300000,1,EUR,1,air,Y"),
    ("negative_value", "net_mass_kg", "D9,2024-01-02,IMP9,CN,8471300000,1,EUR,-3,air,Y"),
    ("malformed_hs_code", "hs_code", "D9,2024-01-02,IMP9,CN,84713A0000,1,EUR,1,air,Y"),
    ("malformed_hs_code", "hs_code", "D9,2024-01-02,IMP9,CN,8471,1,EUR,1,air,Y"),
    ("unknown_country", "origin_country", "D9,2024-01-02,IMP9,ZZ,8471300000,1,EUR,1,air,Y"),
    ("unknown_code", "transport_mode", "D9,2024-01-02,IMP9,CN,8471300000,1,EUR,1,boat,Y"),
    ("unknown_currency", "currency", "D9,2024-01-02,IMP9,CN,8471300000,1,XYZ,1,air,Y"),
    ("duplicate_id", "declaration_id", "D1,2024-01-05,IMP9,CN,8471300000,1,EUR,1,air,Y"),
]


@pytest.mark.parametrize(("reason", "field", "bad_row"), DECLARATION_CASES)
def test_bad_declaration_row_is_rejected_with_its_reason(run_ingest, reason, field, bad_row):
    result = run_ingest(MAPPING, _csv(GOOD[0], GOOD[1], bad_row, GOOD[2]))

    assert result.rejects[["table", "source_row", "field", "reason"]].values.tolist() == [
        ["declarations", 3, field, reason]
    ]
    assert result.tables["declarations"]["declaration_id"].tolist() == GOOD_IDS
    table = result.report["tables"]["declarations"]
    assert (table["read"], table["accepted"], table["rejected"]) == (4, 3, 1)
    assert table["rejected_by_reason"] == {reason: 1}
    assert table["field_failures"] == 1


def test_reject_line_names_source_column_and_raw_value(run_ingest):
    bad = "D9,2024-01-02,IMP9, zz ,8471300000,1,EUR,1,air,Y"
    result = run_ingest(MAPPING, _csv(GOOD[0], bad))
    line = result.rejects.iloc[0].to_dict()
    assert line == {
        "table": "declarations",
        "source_row": 2,
        "field": "origin_country",
        "column": "ORIG",
        "value": " zz ",
        "reason": "unknown_country",
    }


def test_row_failing_several_fields_is_counted_once_under_first_reason(run_ingest):
    bad = "D9,yesterday,,ZZ,12,-1,EUR,1,air,Y"
    result = run_ingest(MAPPING, _csv(GOOD[0], bad))
    assert sorted(result.rejects["reason"]) == sorted(
        ["bad_date", "missing_required", "unknown_country", "malformed_hs_code", "negative_value"]
    )
    assert set(result.rejects["source_row"]) == {2}
    table = result.report["tables"]["declarations"]
    assert table["rejected_by_reason"] == {"missing_required": 1}
    assert table["field_failures"] == 5
    assert result.summary.field_failures == 5


def test_good_rows_are_normalised(run_ingest):
    decl = run_ingest(MAPPING, _csv(*GOOD)).tables["declarations"]
    assert decl["origin_country"].tolist() == ["CN", "TR", "VN"]
    assert decl["hs_code"].tolist() == ["8471300000", "61091000", "610910"]
    assert decl["currency"].tolist() == ["USD", "EUR", "CNY"]
    assert decl["transport_mode"].tolist() == ["maritime", "air", "road"]
    assert decl["importer_aeo"].tolist()[:2] == [True, False]
    assert decl["importer_aeo"].isna().tolist() == [False, False, True]
    assert decl["net_mass_kg"].isna().tolist() == [False, False, True]
    assert decl["customs_value_rc"].tolist() == [100.5 * 0.92, 20.0, 7.25 * 0.127]
    assert [str(t) for t in decl["lodged_at"]] == [
        "2024-01-02 10:00:00+00:00",
        "2024-01-03 11:30:00+00:00",
        "2024-01-04 00:00:00+00:00",
    ]


CONTROLS_HEADER = "CID,REF,TS,P,RES"


def test_controls_propensity_out_of_range(run_ingest):
    controls = "\n".join(
        [
            CONTROLS_HEADER,
            "C1,D1,2024-02-01,0.25,irregularity",
            "C2,D2,2024-02-01,1.5,no_irregularity",
            "C3,D3,2024-02-01,0,no_irregularity",
            "C4,D3,2024-02-02,1,No Irregularity",
        ]
    )
    result = run_ingest(MAPPING, _csv(*GOOD), controls=controls)
    assert result.rejects[["table", "source_row", "field", "reason"]].values.tolist() == [
        ["controls", 2, "propensity", "out_of_range"],
        ["controls", 3, "propensity", "out_of_range"],
    ]
    ctrl = result.tables["controls"]
    assert ctrl["control_id"].tolist() == ["C1", "C4"]
    assert ctrl["outcome"].tolist() == ["irregularity", "no_irregularity"]
    assert ctrl["control_type"].tolist() == ["unknown", "unknown"]
    assert ctrl["revenue_recovered"].tolist() == [0.0, 0.0]
    assert result.report["tables"]["controls"]["rejected_by_reason"] == {"out_of_range": 2}


def test_controls_unknown_reference_and_missing_reference(run_ingest):
    controls = "\n".join(
        [
            CONTROLS_HEADER,
            "C1,D1,2024-02-01,0.5,irregularity",
            "C2,D999,2024-02-01,0.5,irregularity",
            "C3,,2024-02-01,0.5,irregularity",
            "C1,D2,2024-02-01,0.5,irregularity",
        ]
    )
    result = run_ingest(MAPPING, _csv(*GOOD), controls=controls)
    assert result.rejects[["source_row", "field", "value", "reason"]].values.tolist() == [
        [2, "declaration_id", "D999", "unknown_reference"],
        [3, "declaration_id", "", "missing_required"],
        [4, "control_id", "C1", "duplicate_id"],
    ]
    assert result.tables["controls"]["control_id"].tolist() == ["C1"]


def test_controls_reference_to_rejected_declaration_is_unknown(run_ingest):
    bad = "D9,2024-01-02,IMP9,ZZ,8471300000,1,EUR,1,air,Y"
    controls = f"{CONTROLS_HEADER}\nC1,D9,2024-02-01,0.5,irregularity\n"
    result = run_ingest(MAPPING, _csv(GOOD[0], bad), controls=controls)
    assert result.rejects[["table", "reason"]].values.tolist() == [
        ["declarations", "unknown_country"],
        ["controls", "unknown_reference"],
    ]
    assert len(result.tables["controls"]) == 0


ENS_HEADER = "EREF,ETS,KIND,MODE,CARRIER,ROUTE,HS6"


def test_ens_inconsistent_filing_rejects_the_filing_version(run_ingest):
    ens = "\n".join(
        [
            ENS_HEADER,
            "E1,2024-01-01 08:00:00,full,maritime,CARR1,CN-SG-NL,847130",
            "E1,2024-01-01 08:00:00,full,maritime,CARR1,CN SG NL,610910",
            "E2,2024-01-01 09:00:00,full,air,CARR2,CN>NL,847130",
            "E2,2024-01-01 09:00:00,full,air,CARR3,CN>NL,610910",
            "E3,2024-01-01 10:00:00,pre-loading,air,CARR2,HK|DE,847130",
        ]
    )
    result = run_ingest(MAPPING, _csv(*GOOD), ens=ens)
    ens_rejects = result.rejects[result.rejects["table"] == "ens"]
    assert ens_rejects[["source_row", "field", "value", "reason"]].values.tolist() == [
        [3, "carrier_id", "CARR2", "inconsistent_filing"],
        [4, "carrier_id", "CARR3", "inconsistent_filing"],
    ]
    filings = result.tables["ens_filings"]
    assert filings["filing_id"].tolist() == ["E1", "E3"]
    assert filings["itinerary"].tolist() == ["CN-SG-NL", "HK-DE"]
    assert filings["filing_type"].tolist() == ["full", "pre_loading"]
    assert filings["version"].tolist() == [1, 1]
    items = result.tables["ens_items"]
    assert items[["filing_id", "item_no", "hs6"]].values.tolist() == [
        ["E1", 1, "847130"],
        ["E1", 2, "610910"],
        ["E3", 1, "847130"],
    ]
    table = result.report["tables"]["ens"]
    assert (table["read"], table["accepted"], table["rejected"]) == (5, 3, 2)
    assert table["rejected_by_reason"] == {"inconsistent_filing": 2}
    assert table["written"] == {"ens_filings": 2, "ens_items": 3}


def test_ens_item_failure_keeps_the_filing_and_other_items(run_ingest):
    ens = "\n".join(
        [
            ENS_HEADER,
            "E1,2024-01-01 08:00:00,full,maritime,CARR1,CN-XX-NL,847130",
            "E1,2024-01-01 08:00:00,full,maritime,CARR1,CN-SG-NL,8471",
            "E1,2024-01-01 08:00:00,full,maritime,CARR1,CN-SG-NL,610910",
        ]
    )
    result = run_ingest(MAPPING, _csv(*GOOD), ens=ens)
    assert result.rejects[["source_row", "field", "reason"]].values.tolist() == [
        [1, "itinerary", "unknown_country"],
        [2, "hs6", "malformed_hs_code"],
    ]
    assert result.tables["ens_filings"]["itinerary"].tolist() == ["CN-SG-NL"]
    items = result.tables["ens_items"]
    assert items[["item_no", "hs6"]].values.tolist() == [[3, "610910"]]
