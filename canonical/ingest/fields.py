"""Turn a source table's columns into canonical columns, field by field, logging failures."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from canonical.ingest.failures import RejectLog
from canonical.ingest.mapping import FieldSpec, Mapping, Section
from canonical.ingest.parsers import ParseOptions, parse, parse_signed_float
from canonical.ingest.sources import SourceTable
from canonical.ingest.text import constant, normalise, to_string_series
from canonical.schema import Field, extra_column


def _default_text(value: object) -> str:
    """A schema default as the text a source cell would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def raw_column(source: SourceTable, spec: FieldSpec) -> pa.ChunkedArray:
    """The cells a spec reads: its source column, or its constant repeated."""
    if spec.column is not None:
        return source.columns[spec.column]
    return constant(spec.value or "", source.num_rows)


def parse_options(spec: FieldSpec | None, section: Section, mapping: Mapping) -> ParseOptions:
    """Parser options for one field from its spec, its section and the global options."""
    if spec is None:
        return ParseOptions(decimal=section.decimal, currencies=tuple(mapping.rates))
    return ParseOptions(
        fmt=spec.format,
        unit=spec.unit,
        factor=spec.factor,
        zfill=spec.zfill,
        timezone=spec.timezone or mapping.timezone,
        decimal=section.decimal,
        currencies=tuple(mapping.rates),
    )


def read_field(
    source: SourceTable,
    fld: Field,
    spec: FieldSpec,
    section: Section,
    mapping: Mapping,
    log: RejectLog,
    *,
    default: str | None = None,
) -> pd.Series:
    """One mapped field: normalised, parsed, failures logged under the canonical field name."""
    raw = raw_column(source, spec)
    text = normalise(
        raw, values=spec.values, null_values=section.null_values, default=spec.default or default
    )
    parsed = parse(text, fld, parse_options(spec, section, mapping))
    log.add(fld.name, spec.column or "", raw, parsed.codes)
    return parsed.values


def default_column(
    fld: Field, value: object, n: int, section: Section, mapping: Mapping
) -> pd.Series:
    """An unmapped field filled with its default, in the canonical dtype."""
    text = constant(_default_text(value), n)
    return parse(text, fld, parse_options(None, section, mapping)).values


def read_fields(
    source: SourceTable,
    fields: dict[str, Field],
    section: Section,
    mapping: Mapping,
    log: RejectLog,
    defaults: dict[str, object] | None = None,
) -> dict[str, pd.Series]:
    """Every mapped field of ``fields``, plus defaults for unmapped ones that have one.

    ``defaults`` overrides schema defaults (e.g. the reporting currency); a default also
    fills the empty cells of a mapped field when it comes from ``defaults``.
    """
    defaults = defaults or {}
    out: dict[str, pd.Series] = {}
    for name, fld in fields.items():
        spec = section.fields.get(name)
        default = defaults.get(name, fld.default)
        if spec is not None:
            fill = _default_text(defaults[name]) if name in defaults else None
            out[name] = read_field(source, fld, spec, section, mapping, log, default=fill)
        elif default is not None:
            out[name] = default_column(fld, default, source.num_rows, section, mapping)
    return out


def read_extras(source: SourceTable, section: Section, log: RejectLog) -> dict[str, pd.Series]:
    """Extra attributes: categorical as text, numeric as (signed) floats."""
    out: dict[str, pd.Series] = {}
    for name, spec in section.extra.categorical.items():
        raw = raw_column(source, spec)
        text = normalise(
            raw, values=spec.values, null_values=section.null_values, default=spec.default
        )
        out[extra_column(name, numeric=False)] = to_string_series(text)
    for name, spec in section.extra.numeric.items():
        column = extra_column(name, numeric=True)
        raw = raw_column(source, spec)
        text = normalise(
            raw, values=spec.values, null_values=section.null_values, default=spec.default
        )
        parsed = parse_signed_float(text, ParseOptions(factor=spec.factor, decimal=section.decimal))
        log.add(column, spec.column or "", raw, parsed.codes)
        out[column] = parsed.values
    return out
