"""The mapping file's model: which source column feeds which canonical field, and how.

Pydantic models with ``extra="forbid"`` so that a misspelt option is an error rather
than silently ignored; option checks that depend on a field's kind (a date format on
an amount, a mass unit on a code) are made here too, before any data is read.
"""

from __future__ import annotations

import codecs
import math
import re
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from canonical.codes import CURRENCIES, EUR_PER_UNIT
from canonical.schema import (
    CONTROLS,
    DECLARATIONS,
    ENS_FILINGS,
    ENS_ITEMS,
    REPORTING_CURRENCY,
    Kind,
)
from canonical.schema import Field as SchemaField

MASS_UNITS: dict[str, float] = {"g": 0.001, "kg": 1.0, "t": 1000.0, "lb": 0.45359237}
EPOCH_UNITS: tuple[str, ...] = ("s", "ms", "us", "ns")
ISO8601 = "ISO8601"

_NUMERIC_KINDS = (Kind.AMOUNT, Kind.RATE, Kind.PROBABILITY)
_ZFILL_KINDS = (Kind.ID, Kind.CODE, Kind.HS)
_EXTRA_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_DURATION = re.compile(r"^(?P<n>[0-9]+)(?P<unit>[dh])$")


def _text(value: object) -> str | None:
    """YAML scalar as the text a CSV cell would hold (``True`` -> ``true``, ``3`` -> ``3``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    raise ValueError(f"expected a single value, got {type(value).__name__}")


def _check_timezone(name: str) -> str:
    """``name`` if it is a known IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class FieldSpec(BaseModel):
    """How one canonical field is read: a source column (or a constant) and options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    value: str | None = None
    values: dict[str, str | None] = Field(default_factory=dict)
    default: str | None = None
    format: str | None = None
    unit: str | None = None
    scale: float | None = None
    zfill: int | None = Field(default=None, ge=1, le=64)
    timezone: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        """``field: COLUMN`` is short for ``field: {column: COLUMN}``."""
        if isinstance(data, dict):
            return data
        return {"column": _text(data)}

    @field_validator("column", "value", "default", "format", "unit", mode="before")
    @classmethod
    def _scalar_text(cls, value: object) -> str | None:
        """YAML scalars (numbers, booleans) as text."""
        return _text(value)

    @field_validator("values", mode="before")
    @classmethod
    def _map_text(cls, value: object) -> object:
        """Value-map keys and values as text, as cells would hold them."""
        if not isinstance(value, dict):
            return value
        return {_text(k) or "": _text(v) for k, v in value.items()}

    @field_validator("format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        """A date format pandas can use (``ISO8601`` or valid strptime directives)."""
        if value is None or value == ISO8601:
            return value
        try:
            pd.to_datetime(pd.Series(["2000-01-01"]), format=value, errors="coerce")
        except (ValueError, re.error) as exc:
            raise ValueError(f"invalid date format {value!r}: {exc}") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        """Only known IANA time zones."""
        return None if value is None else _check_timezone(value)

    @field_validator("scale")
    @classmethod
    def _positive_scale(cls, value: float | None) -> float | None:
        """A scale must be a positive finite number."""
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError("scale must be a positive number")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        """Exactly one source; options that exclude each other are not combined."""
        if (self.column is None) == (self.value is None):
            raise ValueError(
                "give exactly one of `column` (a source column) or `value` (a constant)"
            )
        if self.unit is not None and self.scale is not None:
            raise ValueError("give `unit` or `scale`, not both")
        if self.format is not None and self.unit is not None:
            raise ValueError("give `format` (text dates) or `unit` (epoch numbers), not both")
        return self

    def check_for(self, fld: SchemaField) -> None:
        """Raise ValueError when an option does not apply to the field's kind."""
        kind = fld.kind
        if (self.format is not None or self.timezone is not None) and kind is not Kind.TIMESTAMP:
            raise ValueError(f"{fld.name}: `format`/`timezone` apply to timestamps only")
        if self.unit is not None:
            if kind is Kind.TIMESTAMP:
                if self.unit not in EPOCH_UNITS:
                    raise ValueError(
                        f"{fld.name}: epoch unit must be one of {', '.join(EPOCH_UNITS)}"
                    )
            elif fld.name.endswith("_kg"):
                if self.unit not in MASS_UNITS:
                    raise ValueError(
                        f"{fld.name}: mass unit must be one of {', '.join(MASS_UNITS)}"
                    )
            else:
                raise ValueError(
                    f"{fld.name}: `unit` applies to timestamps (epoch) and masses (*_kg) only;"
                    " use `scale` for other numbers"
                )
        if self.scale is not None and kind not in _NUMERIC_KINDS:
            raise ValueError(
                f"{fld.name}: `scale` applies to amounts, rates and probabilities only"
            )
        if self.zfill is not None and kind not in _ZFILL_KINDS:
            raise ValueError(f"{fld.name}: `zfill` applies to ids, codes and HS codes only")

    @property
    def factor(self) -> float:
        """Multiplier from source units to canonical units (1.0 when none)."""
        if self.scale is not None:
            return self.scale
        if self.unit in MASS_UNITS:
            return MASS_UNITS[self.unit]
        return 1.0


class ExtraSpec(BaseModel):
    """Source attributes outside the model, carried as ``extra_cat__``/``extra_num__`` columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categorical: dict[str, FieldSpec] = Field(default_factory=dict)
    numeric: dict[str, FieldSpec] = Field(default_factory=dict)

    @field_validator("categorical", "numeric", mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        """Keys as text; ``name: COLUMN`` entries are parsed by FieldSpec's short form."""
        if not isinstance(value, dict):
            return value
        return {_text(k): v for k, v in value.items()}

    @model_validator(mode="after")
    def _names(self) -> ExtraSpec:
        """Extra names are identifiers and only numeric options go with numeric extras."""
        for kind, specs in (("categorical", self.categorical), ("numeric", self.numeric)):
            for name, spec in specs.items():
                if not _EXTRA_NAME.match(name):
                    raise ValueError(f"extra {kind} name {name!r}: use letters, digits and _")
                if spec.format or spec.timezone or spec.zfill or (spec.unit and kind != "numeric"):
                    raise ValueError(f"extra {kind} {name!r}: option not available for extras")
                if kind == "categorical" and spec.scale is not None:
                    raise ValueError(f"extra categorical {name!r}: `scale` needs a numeric extra")
                if spec.unit is not None and spec.unit not in MASS_UNITS:
                    raise ValueError(f"extra numeric {name!r}: unit must be a mass unit")
        return self


class LabelSpec(BaseModel):
    """A control-result column on the declarations, for histories where every row was controlled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    DEFAULT_POSITIVE: ClassVar[tuple[str, ...]] = ("1", "1.0", "true", "yes", "y")
    DEFAULT_NEGATIVE: ClassVar[tuple[str, ...]] = ("0", "0.0", "false", "no", "n")

    column: str
    positive: list[str] = Field(default_factory=lambda: list(LabelSpec.DEFAULT_POSITIVE))
    negative: list[str] | None = None
    revenue: str | None = None
    known_after: str = "0h"

    @field_validator("column", "revenue", "known_after", mode="before")
    @classmethod
    def _scalar_text(cls, value: object) -> str | None:
        """YAML scalars (numbers, booleans) as text."""
        return _text(value)

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _list_text(cls, value: object) -> object:
        """Label values as trimmed lowercase text (they are compared that way)."""
        if value is None:
            return None
        if not isinstance(value, list):
            value = [value]
        return [(_text(v) or "").strip().lower() for v in value]

    @model_validator(mode="after")
    def _disjoint(self) -> LabelSpec:
        """A label value cannot be both positive and negative."""
        if not self.positive:
            raise ValueError("label.positive must list at least one value")
        if self.negative is not None and set(self.positive) & set(self.negative):
            raise ValueError("label.positive and label.negative share values")
        return self

    @field_validator("known_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        """A delay in whole days or hours: ``30d``, ``36h`` (``0h``: known when lodged)."""
        if not _DURATION.match(value.strip()):
            raise ValueError(f"known_after must be like 30d or 36h, got {value!r}")
        return value.strip()

    @property
    def delay(self) -> pd.Timedelta:
        """How long after lodging a label becomes known (the derived ``controlled_at``)."""
        match = _DURATION.match(self.known_after)
        if match is None:  # unreachable: checked by the validator
            raise ValueError(f"invalid known_after {self.known_after!r}")
        return pd.Timedelta(int(match["n"]), unit=match["unit"])

    @property
    def negatives(self) -> list[str]:
        """Values read as negative: ``negative`` if given, else the defaults not listed positive.

        Only listed values count: any other label (``?``, ``positive``, a typo) is a reject,
        never a silent negative.
        """
        if self.negative is not None:
            return self.negative
        return [v for v in self.DEFAULT_NEGATIVE if v not in self.positive]


class Section(BaseModel):
    """One source file: how to read it and how its columns become canonical fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TABLES: ClassVar[tuple[str, ...]] = ()
    SCHEMA_FIELDS: ClassVar[dict[str, SchemaField]] = {}
    DERIVED: ClassVar[frozenset[str]] = frozenset()

    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: Literal[".", ","] = "."
    null_values: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpec]
    extra: ExtraSpec = Field(default_factory=ExtraSpec)

    @field_validator("fields", mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        """Keys as text; ``name: COLUMN`` entries are parsed by FieldSpec's short form."""
        if not isinstance(value, dict):
            return value
        return {_text(k): v for k, v in value.items()}

    @field_validator("null_values", mode="before")
    @classmethod
    def _null_text(cls, value: object) -> object:
        """Null tokens as trimmed text."""
        if not isinstance(value, list):
            return value
        return [(_text(v) or "").strip() for v in value]

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        """The CSV delimiter is one character and not a quote or newline."""
        if len(value) != 1 or value in '\r\n"':
            raise ValueError("delimiter must be one character (not a quote or newline)")
        return value

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        """The encoding must be a codec Python knows."""
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check_fields(self) -> Section:
        """Known field names, options fitting each field's kind, required fields mapped."""
        known = self.SCHEMA_FIELDS
        unknown = [name for name in self.fields if name not in known]
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(map(repr, unknown))} for {'/'.join(self.TABLES)};"
                f" known fields: {', '.join(known)}"
            )
        for name, spec in self.fields.items():
            spec.check_for(known[name])
        unmapped = [
            f.name
            for f in known.values()
            if f.required
            and f.default is None
            and f.name not in self.fields
            and f.name not in self.DERIVED
        ]
        if unmapped:
            raise ValueError(f"required field(s) not mapped: {', '.join(unmapped)}")
        if self.decimal == self.delimiter:
            raise ValueError("decimal separator and delimiter must differ")
        return self

    def source_columns(self) -> list[str]:
        """Source columns this section reads, in first-use order."""
        specs = [
            *self.fields.values(),
            *self.extra.categorical.values(),
            *self.extra.numeric.values(),
        ]
        names = [s.column for s in specs if s.column is not None]
        return list(dict.fromkeys(names))


def _fields_of(*tables: tuple[SchemaField, ...]) -> dict[str, SchemaField]:
    """Schema fields by name over several tables (first table wins on shared names)."""
    out: dict[str, SchemaField] = {}
    for fields in tables:
        for f in fields:
            out.setdefault(f.name, f)
    return out


class DeclarationsSection(Section):
    """The declarations file, optionally with a label column that stands for control results."""

    TABLES: ClassVar[tuple[str, ...]] = ("declarations",)
    SCHEMA_FIELDS: ClassVar[dict[str, SchemaField]] = _fields_of(DECLARATIONS.fields)
    DERIVED: ClassVar[frozenset[str]] = frozenset({"customs_value_rc"})

    label: LabelSpec | None = None

    def source_columns(self) -> list[str]:
        """Source columns read, label columns included."""
        names = super().source_columns()
        if self.label is not None:
            names += [self.label.column] + ([self.label.revenue] if self.label.revenue else [])
        return list(dict.fromkeys(names))


class EnsSection(Section):
    """The ENS file, flattened: one row per goods item, filing-level columns repeated."""

    TABLES: ClassVar[tuple[str, ...]] = ("ens_filings", "ens_items")
    SCHEMA_FIELDS: ClassVar[dict[str, SchemaField]] = _fields_of(
        ENS_FILINGS.fields, ENS_ITEMS.fields
    )


class ControlsSection(Section):
    """The control results file."""

    TABLES: ClassVar[tuple[str, ...]] = ("controls",)
    SCHEMA_FIELDS: ClassVar[dict[str, SchemaField]] = _fields_of(CONTROLS.fields)

    @model_validator(mode="after")
    def _reference(self) -> ControlsSection:
        """Controls must be able to point at a declaration or an ENS filing."""
        for group in CONTROLS.require_one_of:
            if not any(name in self.fields for name in group):
                raise ValueError(f"map at least one of: {', '.join(group)}")
        return self


class Mapping(BaseModel):
    """A whole mapping file: global options and one section per source file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reporting_currency: str = REPORTING_CURRENCY
    currency_rates: dict[str, float] = Field(default_factory=dict)
    timezone: str = "UTC"
    declarations: DeclarationsSection | None = None
    ens: EnsSection | None = None
    controls: ControlsSection | None = None

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        """The reporting currency is an ISO 4217 code (uppercased)."""
        code = value.strip().upper()
        if code not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency")
        return code

    @field_validator("currency_rates", mode="before")
    @classmethod
    def _rates(cls, value: object) -> object:
        """Rate keys are ISO 4217 codes (uppercased)."""
        if not isinstance(value, dict):
            return value
        out: dict[str, object] = {}
        for key, rate in value.items():
            code = (_text(key) or "").strip().upper()
            if code not in CURRENCIES:
                raise ValueError(f"{key!r} is not an ISO 4217 currency")
            out[code] = rate
        return out

    @field_validator("currency_rates")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        """Rates are positive finite numbers."""
        bad = [k for k, v in value.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"rates must be positive numbers: {', '.join(bad)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """Only known IANA time zones."""
        return _check_timezone(value)

    @model_validator(mode="after")
    def _complete(self) -> Mapping:
        """At least one section, and a rate for the reporting currency."""
        if self.declarations is None and self.ens is None and self.controls is None:
            raise ValueError("the mapping has no section (declarations, ens, controls)")
        if self.reporting_currency not in self.rates:
            raise ValueError(
                f"no rate for the reporting currency {self.reporting_currency};"
                " add it to currency_rates"
            )
        return self

    @property
    def rates(self) -> dict[str, float]:
        """EUR per unit of each known currency: the reference rates, overridden by the mapping."""
        return {**EUR_PER_UNIT, **self.currency_rates}
