"""Export a world as a foreign administration's CSV files, the inverse of a mapping.

Used by the demo and the round-trip test: generate -> export under a mapping's
source column names -> ingest with that mapping -> the same canonical tables.
Only the options an exporter can invert are supported: columns, value maps,
power-of-ten units and scales, strftime formats, epoch units.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from canonical.ingest import Mapping, shifted_text
from canonical.ingest.mapping import FieldSpec, Section
from canonical.schema import TABLES, Kind
from canonical.schema import Field as SchemaField
from synth.world import World

EXPORT_FILES = {"declarations": "declarations.csv", "ens": "ens.csv", "controls": "controls.csv"}


def _number_text(values: pd.Series, factor: float) -> pd.Series:
    if factor == 1.0:
        return values.map(lambda x: "" if pd.isna(x) else repr(float(x)))
    places = -math.log10(factor)
    if abs(places - round(places)) > 1e-9:
        raise ValueError(f"cannot export exactly with a factor of {factor}: not a power of ten")
    return values.map(lambda x: "" if pd.isna(x) else shifted_text(float(x), round(places)))


def _timestamp_text(values: pd.Series, spec: FieldSpec, zone: str) -> pd.Series:
    if spec.unit is not None:
        epoch = (values - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, unit=spec.unit)
        return epoch.map(lambda x: "" if pd.isna(x) else str(int(x)))
    local = values.dt.tz_convert(spec.timezone or zone)
    fmt = spec.format if spec.format not in (None, "ISO8601") else "%Y-%m-%dT%H:%M:%S%z"
    return local.dt.strftime(fmt).astype(object).where(values.notna(), "")


def _column_text(values: pd.Series, fld: SchemaField, spec: FieldSpec, zone: str) -> pd.Series:
    """Source text of one canonical column."""
    if fld.kind is Kind.TIMESTAMP:
        text = _timestamp_text(values, spec, zone)
    elif fld.kind in (Kind.AMOUNT, Kind.RATE, Kind.PROBABILITY):
        text = _number_text(values.astype("float64"), spec.factor)
    elif fld.kind is Kind.COUNT:
        text = values.map(lambda x: "" if pd.isna(x) else str(int(x)))
    elif fld.kind is Kind.BOOL:
        text = values.map(lambda x: "" if pd.isna(x) else ("true" if x else "false"))
    else:
        text = values.astype(object).where(values.notna(), "")
    if spec.values:
        inverse: dict[str, str] = {}
        for source, canonical in spec.values.items():
            if canonical is not None:
                inverse.setdefault(canonical, source)
        text = text.map(lambda x: inverse.get(x, x))
    return text


def _section_frame(frame: pd.DataFrame, section: Section, zone: str) -> pd.DataFrame:
    out: dict[str, pd.Series] = {}
    for name, spec in section.fields.items():
        if spec.column is None or spec.column in out:
            continue
        fld = section.SCHEMA_FIELDS[name]
        out[spec.column] = _column_text(frame[name], fld, spec, zone)
    return pd.DataFrame(out)


def export_source_files(world: World, mapping: Mapping, out: Path) -> dict[str, Path]:
    """Write the world's tables as CSV under the mapping's source column names."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    frames = {name: world.frame(name) for name in TABLES}
    sources = {
        "declarations": (mapping.declarations, frames["declarations"]),
        "controls": (mapping.controls, frames["controls"]),
    }
    if mapping.ens is not None:
        flat = frames["ens_items"].merge(
            frames["ens_filings"], on=["filing_id", "version"], how="left", suffixes=("", "_f")
        )
        sources["ens"] = (mapping.ens, flat)
    for key, (section, frame) in sources.items():
        if section is None:
            continue
        path = out / EXPORT_FILES[key]
        _section_frame(frame, section, mapping.timezone).to_csv(path, index=False)
        paths[key] = path
    return paths
