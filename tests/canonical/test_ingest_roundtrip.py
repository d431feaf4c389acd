"""Canonical tables exported under foreign names come back equal through world_csv_mapping.yaml.

The world here is hand-made (every field of the four tables, nulls in optional fields,
arbitrary floats); the exporter is the inverse of the mapping, driven by the mapping itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from canonical.frames import conform, read_dataset
from canonical.ingest import ingest_files, load_mapping, shifted_text
from canonical.ingest.mapping import Section
from canonical.ingest.numbers import power_of_ten
from canonical.schema import TABLES

WORLD_MAPPING = Path(__file__).resolve().parents[2] / "docs" / "examples" / "world_csv_mapping.yaml"
FORMAT = "%Y-%m-%d %H:%M:%S"


def _world(n: int = 40, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A small canonical world with every field filled (optional ones sometimes null)."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2025-03-01 00:00:00", tz="UTC")
    seconds = pd.to_timedelta(rng.integers(0, 90 * 86400, n), unit="s")
    lodged = t0 + seconds
    some = rng.random(n) < 0.8
    modes = ["maritime", "rail", "road", "air", "postal", "express"]

    def maybe(values: list | np.ndarray) -> list:
        return [v if keep else None for v, keep in zip(values, some, strict=True)]

    filings_n = 12
    filings = pd.DataFrame(
        {
            "filing_id": [f"ENS{i // 2:04d}" for i in range(filings_n)],
            "version": [1 + i % 2 for i in range(filings_n)],
            "filed_at": t0 + pd.to_timedelta(rng.integers(0, 86400 * 30, filings_n), unit="s"),
            "filing_type": rng.choice(["pre_loading", "full"], filings_n),
            "transport_mode": rng.choice(modes, filings_n),
            "carrier_id": [f"CARR{i % 3}" for i in range(filings_n)],
            "carrier_aeo": rng.random(filings_n) < 0.5,
            "consignor_id": [f"SHIP{i}" if i % 4 else None for i in range(filings_n)],
            "consignor_country": rng.choice(["CN", "VN", "TR"], filings_n),
            "consignee_id": [f"IMP{i}" for i in range(filings_n)],
            "consignee_country": ["NL"] * filings_n,
            "place_of_loading": rng.choice(["CNSHA", "VNSGN", None], filings_n),
            "itinerary": rng.choice(["CN-SG-NL", "VN-NL", "TR-BG-RO-HU-DE", None], filings_n),
            "office_first_entry": ["NL000396"] * filings_n,
            "expected_arrival": [
                t0 + pd.Timedelta(days=40 + i) if i % 3 else pd.NaT for i in range(filings_n)
            ],
        }
    )
    items = pd.DataFrame(
        {
            "filing_id": np.repeat(filings["filing_id"].to_numpy(), 2),
            "version": np.repeat(filings["version"].to_numpy(), 2),
            "item_no": [1, 2] * filings_n,
            "hs6": rng.choice(["847130", "610910", "040610"], 2 * filings_n),
            "description": rng.choice(
                ["laptop", "T-shirts, cotton", 'cheese "aged"'], 2 * filings_n
            ),
            "gross_mass_kg": rng.lognormal(3, 2, 2 * filings_n),
            "packages": [i % 5 if i % 7 else None for i in range(2 * filings_n)],
            "containerised": rng.random(2 * filings_n) < 0.5,
        }
    )
    declarations = pd.DataFrame(
        {
            "declaration_id": [f"25NL{i:014d}" for i in range(n)],
            "lodged_at": lodged,
            "office": rng.choice(["NL000396", "BE212000"], n),
            "procedure": maybe(rng.choice(["4000", "4200"], n)),
            "declarant_id": maybe([f"NLDEC{i % 4}" for i in range(n)]),
            "importer_id": [f"NLIMP{i % 9:05d}" for i in range(n)],
            "seller_id": maybe([f"S{i % 6}" for i in range(n)]),
            "seller_country": maybe(rng.choice(["CN", "US", "TR"], n)),
            "buyer_id": maybe([f"B{i % 5}" for i in range(n)]),
            "origin_country": rng.choice(["CN", "US", "TR", "VN"], n),
            "dispatch_country": maybe(rng.choice(["CN", "SG", "TR"], n)),
            "hs_code": rng.choice(["8471300000", "61091000", "040610", "0406101000"], n),
            "description": maybe(rng.choice(["laptop", "shirts; cotton, 100%", "é cheese"], n)),
            "net_mass_kg": maybe(rng.lognormal(2, 3, n)),
            "supplementary_units": maybe(rng.integers(1, 50, n).astype(float)),
            "customs_value": rng.lognormal(6, 2, n),
            "currency": rng.choice(["EUR", "USD", "CNY"], n),
            "customs_value_rc": rng.lognormal(6, 2, n),
            "duty_rate": maybe(rng.choice([0.0, 0.12, 0.035, 0.485], n) + rng.random(n) / 1e3),
            "duty_amount": maybe(rng.lognormal(3, 2, n)),
            "preference": maybe(rng.choice(["100", "300"], n)),
            "transport_mode": maybe(rng.choice(modes, n)),
            "importer_aeo": rng.random(n) < 0.3,
            "declarant_aeo": rng.random(n) < 0.3,
            "ens_id": maybe(rng.choice(filings["filing_id"].unique(), n)),
        }
    )
    controls_n = 10
    controls = pd.DataFrame(
        {
            "control_id": [f"CTL{i}" for i in range(controls_n)],
            "declaration_id": [
                declarations["declaration_id"][i * 3] if i % 4 else None for i in range(controls_n)
            ],
            "ens_id": [None if i % 4 else "ENS0001" for i in range(controls_n)],
            "controlled_at": lodged[: controls_n * 3 : 3] + pd.Timedelta(hours=5),
            "control_type": rng.choice(["documentary", "physical", "post_release"], controls_n),
            "selection_basis": rng.choice(["rule", "model", "random", "unknown"], controls_n),
            "propensity": [None if i % 3 == 0 else rng.uniform(1e-3, 1) for i in range(controls_n)],
            "outcome": rng.choice(["no_irregularity", "irregularity", "seizure"], controls_n),
            "risk_type": [None if i % 2 else "undervaluation" for i in range(controls_n)],
            "revenue_recovered": rng.lognormal(4, 2, controls_n),
        }
    )
    world = {
        "declarations": declarations,
        "ens_filings": filings,
        "ens_items": items,
        "controls": controls,
    }
    return {name: conform(frame, name) for name, frame in world.items()}


def _export_column(series: pd.Series, spec) -> pd.Series:
    """One canonical column as the foreign text the spec reads back."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        text = series.dt.strftime(spec.format or FORMAT)
    elif series.dtype == "float64":
        places = power_of_ten(spec.factor)
        assert places is not None
        text = series.map(lambda x: shifted_text(x, -places) if pd.notna(x) else None)
    elif isinstance(series.dtype, pd.BooleanDtype):
        text = series.map({True: "true", False: "false"}, na_action="ignore")
    else:
        text = series.astype(object).map(str, na_action="ignore")
    inverse = {v: k for k, v in spec.values.items()}
    text = text.map(lambda v: inverse.get(v, v) if isinstance(v, str) else v)
    return text.astype(object).where(text.notna(), "")


def _export(frame: pd.DataFrame, section: Section) -> pd.DataFrame:
    """A canonical frame under the section's foreign column names, every cell as text."""
    return pd.DataFrame(
        {spec.column: _export_column(frame[name], spec) for name, spec in section.fields.items()}
    )


def _sorted(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(list(TABLES[table].key)).reset_index(drop=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_world_round_trip(tmp_path, suffix):
    world = _world()
    mapping = load_mapping(WORLD_MAPPING)
    flat_ens = world["ens_items"].merge(world["ens_filings"], on=["filing_id", "version"])
    sources = {
        "declarations": _export(world["declarations"], mapping.declarations),
        "ens": _export(flat_ens, mapping.ens),
        "controls": _export(world["controls"], mapping.controls),
    }
    paths = {}
    for name, frame in sources.items():
        paths[name] = tmp_path / f"{name}{suffix}"
        if suffix == ".csv":
            frame.to_csv(paths[name], index=False)
        else:
            frame.to_parquet(paths[name], index=False)

    summary = ingest_files(
        paths["declarations"],
        WORLD_MAPPING,
        tmp_path / "out",
        ens=paths["ens"],
        controls=paths["controls"],
    )
    assert summary.field_failures == 0, (tmp_path / "out" / "rejects.csv").read_text()
    ingested = read_dataset(tmp_path / "out")
    assert set(ingested) == set(world)
    for name, original in world.items():
        pd.testing.assert_frame_equal(
            _sorted(conform(ingested[name], name), name), _sorted(original, name), check_exact=True
        )
