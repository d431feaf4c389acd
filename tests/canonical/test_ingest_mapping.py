"""Mapping options: renamed columns, date formats, units, value maps, zfill, constants, extras."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from canonical.ingest import IngestError, parse_mapping

RENAMED_MAPPING = """
reporting_currency: EUR
currency_rates: {USD: 0.9, gbp: 1.25}
timezone: Europe/Brussels
declarations:
  delimiter: ";"
  decimal: ","
  null_values: ["N/A", "-"]
  fields:
    declaration_id: Numéro déclaration
    lodged_at: {column: date dépôt, format: "%d/%m/%Y %H:%M"}
    importer_id: {column: EORI, zfill: 8}
    origin_country: {column: pays, values: {UK: GB, EL: GR}}
    hs_code: {column: nc, zfill: 10}
    net_mass_kg: {column: masse, unit: g}
    supplementary_units: {column: qte, default: "1"}
    customs_value: valeur
    currency: devise
    duty_rate: {column: taux, scale: 0.01}
    transport_mode: {column: mode, values: {"1": maritime, "4": air, "01": rail}}
    procedure: {value: "4000"}
    importer_aeo: {column: aeo, values: {OUI: "true", NON: "false"}}
  extra:
    categorical: {channel: circuit, broker_city: ville}
    numeric: {fob_value: fob, weight_lb: {column: poids_lb}}
"""

RENAMED_HEADER = (
    "Numéro déclaration;date dépôt;EORI;pays;nc;masse;qte;valeur;devise;taux;mode;aeo;"
    "circuit;ville;fob;poids_lb\n"
)
RENAMED_CSV = (
    RENAMED_HEADER
    + """\
A-1;02/01/2024 10:30;1234567;UK;406101000;1234,5;N/A;100;usd;12,5;1;OUI;orange;Lyon;-12,5;2
A-2;30/06/2024 23:15;87654321;EL;8471300000;500;3;200;GBP;0;01;NON;vert;-;7;
"""
)


def test_renamed_columns_formats_units_value_maps_and_zfill(run_ingest):
    decl = run_ingest(RENAMED_MAPPING, RENAMED_CSV).tables["declarations"]

    assert decl["declaration_id"].tolist() == ["A-1", "A-2"]
    # Brussels: UTC+1 in winter, UTC+2 in summer
    assert [str(t) for t in decl["lodged_at"]] == [
        "2024-01-02 09:30:00+00:00",
        "2024-06-30 21:15:00+00:00",
    ]
    assert decl["importer_id"].tolist() == ["01234567", "87654321"]
    assert decl["origin_country"].tolist() == ["GB", "GR"]
    assert decl["hs_code"].tolist() == ["0406101000", "8471300000"]
    assert decl["net_mass_kg"].tolist() == [1.2345, 0.5]
    assert decl["supplementary_units"].tolist() == [1.0, 3.0]
    assert decl["currency"].tolist() == ["USD", "GBP"]
    assert decl["customs_value_rc"].tolist() == [100 * 0.9, 200 * 1.25]
    assert decl["duty_rate"].tolist() == [0.125, 0.0]
    assert decl["transport_mode"].tolist() == ["maritime", "rail"]
    assert decl["procedure"].tolist() == ["4000", "4000"]
    assert decl["importer_aeo"].tolist() == [True, False]
    assert decl["declarant_aeo"].tolist() == [False, False]  # schema default, unmapped


def test_extras_become_extra_cat_and_extra_num_columns(run_ingest):
    decl = run_ingest(RENAMED_MAPPING, RENAMED_CSV).tables["declarations"]
    extras = sorted(c for c in decl.columns if c.startswith("extra_"))
    assert extras == [
        "extra_cat__broker_city",
        "extra_cat__channel",
        "extra_num__fob_value",
        "extra_num__weight_lb",
    ]
    assert decl["extra_cat__channel"].tolist() == ["orange", "vert"]
    assert decl["extra_cat__broker_city"].isna().tolist() == [False, True]
    assert decl["extra_num__fob_value"].tolist() == [-12.5, 7.0]  # extras may be negative
    assert decl["extra_num__weight_lb"].iloc[0] == 2.0
    assert math.isnan(decl["extra_num__weight_lb"].iloc[1])
    assert str(decl["extra_cat__channel"].dtype) == "string"
    assert decl["extra_num__fob_value"].dtype == "float64"


def test_bad_numeric_extra_rejects_the_row(run_ingest):
    csv = RENAMED_CSV.replace(";-12,5;", ";douze;")
    result = run_ingest(RENAMED_MAPPING, csv)
    assert result.rejects[["source_row", "field", "column", "reason"]].values.tolist() == [
        [1, "extra_num__fob_value", "fob", "wrong_type"]
    ]
    assert result.tables["declarations"]["declaration_id"].tolist() == ["A-2"]


def test_epoch_timestamps_and_explicit_offsets(run_ingest):
    mapping = """
    timezone: America/New_York
    declarations:
      fields:
        declaration_id: id
        lodged_at: {column: ts_ms, unit: ms}
        importer_id: imp
        origin_country: {value: CN}
        hs_code: {value: "847130"}
        customs_value: {value: 1}
    """
    csv = "id,ts_ms,imp\nX1,1704189600000,I\nX2,1704189600500,I\nX3,soon,I\nX4,1e30,I\n"
    result = run_ingest(mapping, csv)
    decl = result.tables["declarations"]
    assert decl["lodged_at"].tolist() == [
        pd.Timestamp("2024-01-02 10:00:00", tz="UTC"),
        pd.Timestamp("2024-01-02 10:00:00.5", tz="UTC"),
    ]
    assert decl["currency"].tolist() == ["EUR", "EUR"]
    assert result.rejects["reason"].tolist() == ["bad_date", "bad_date"]


def test_iso_offsets_are_honoured_and_naive_times_use_the_timezone(run_ingest):
    mapping = """
    timezone: America/New_York
    declarations:
      fields:
        declaration_id: id
        lodged_at: ts
        importer_id: {value: I}
        origin_country: {value: CN}
        hs_code: {value: "847130"}
        customs_value: {value: 1}
    """
    csv = "id,ts\nX1,2024-01-02T10:00:00Z\nX2,2024-01-02 10:00:00+01:00\nX3,2024-01-02 10:00:00\n"
    decl = run_ingest(mapping, csv).tables["declarations"]
    assert [str(t) for t in decl["lodged_at"]] == [
        "2024-01-02 10:00:00+00:00",
        "2024-01-02 09:00:00+00:00",
        "2024-01-02 15:00:00+00:00",
    ]


def test_yaml_keeps_codes_as_written():
    mapping = parse_mapping(
        """
        declarations:
          fields:
            declaration_id: id
            lodged_at: ts
            importer_id: imp
            origin_country: {column: c, values: {NO: NO, Y: N, 01: FR, 2024-01-01: x}}
            hs_code: hs
            customs_value: v
        """.replace("\n        ", "\n")
    )
    values = mapping.declarations.fields["origin_country"].values
    assert values == {"NO": "NO", "Y": "N", "01": "FR", "2024-01-01": "x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("declarationz: {}", r"declarationz: unknown option"),
        (
            "declarations: {fields: {declaration_id: a, lodge_at: b}}",
            r"unknown field\(s\) 'lodge_at'",
        ),
        (
            "declarations: {fields: {declaration_id: a}}",
            r"required field\(s\) not mapped: lodged_at",
        ),
        (
            "declarations: {fields: {declaration_id: a, lodged_at: {column: b, fromat: x}}}",
            r"declarations\.fields\.lodged_at\.fromat: unknown option",
        ),
        (
            "declarations: {fields: {declaration_id: {column: a, unit: g}}}",
            r"declaration_id: `unit` applies to timestamps",
        ),
        ("declarations: {fields: {declaration_id: {column: a, value: b}}}", r"exactly one of"),
        (
            "declarations: {fields: {lodged_at: {column: a, format: '%Y-%Q'}}}",
            r"lodged_at\.format: invalid date format '%Y-%Q'",
        ),
        ("declarations: {delimiter: ';;', fields: {}}", r"delimiter must be one character"),
        ("declarations: {encoding: klingon, fields: {}}", r"unknown encoding 'klingon'"),
        ("timezone: Mars/Olympus", r"unknown time zone 'Mars/Olympus'"),
        ("currency_rates: {XXY: 2}", r"'XXY' is not an ISO 4217 currency"),
        ("reporting_currency: SEK\ncurrency_rates: {SEK: -1}", r"rates must be positive"),
        ("controls: {fields: {control_id: a, controlled_at: b, outcome: c}}", r"map at least one"),
        ("declarations: {fields: {a: 1, a: 2}}", r"invalid YAML \(line 1.*duplicate key 'a'"),
        ("declarations: [unclosed", r"invalid YAML \(line 1"),
        ("- a list", r"must be a YAML mapping"),
    ],
)
def test_bad_mapping_is_an_ingest_error(text, message):
    with pytest.raises(IngestError, match=message):
        parse_mapping(text, "m.yaml")
