"""Typed description of the canonical tables: fields, kinds, required vs optional.

One ``Field`` per canonical column. Its ``kind`` drives parsing and validation in
ingestion and the Arrow/pandas dtype used everywhere, so the same definition serves
the generator, the ingester, the docs and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa


class Kind(StrEnum):
    """What a column holds; each kind has one parser and one storage type."""

    ID = "id"
    TEXT = "text"
    CODE = "code"  # free-form administrative code (office, procedure, preference)
    ENUM = "enum"  # closed vocabulary, see Field.allowed
    COUNTRY = "country"  # ISO 3166-1 alpha-2
    CURRENCY = "currency"  # ISO 4217
    HS = "hs"  # HS/CN/TARIC code, digits only
    ITINERARY = "itinerary"  # ordered ISO alpha-2 countries joined by "-"
    TIMESTAMP = "timestamp"  # UTC
    AMOUNT = "amount"  # non-negative float (mass, value, units, revenue)
    RATE = "rate"  # non-negative float fraction (0.12 = 12 %)
    PROBABILITY = "probability"  # float in (0, 1]
    COUNT = "count"  # non-negative integer
    BOOL = "bool"


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.ID: pa.string(),
    Kind.TEXT: pa.string(),
    Kind.CODE: pa.string(),
    Kind.ENUM: pa.string(),
    Kind.COUNTRY: pa.string(),
    Kind.CURRENCY: pa.string(),
    Kind.HS: pa.string(),
    Kind.ITINERARY: pa.string(),
    Kind.TIMESTAMP: pa.timestamp("ns", tz="UTC"),
    Kind.AMOUNT: pa.float64(),
    Kind.RATE: pa.float64(),
    Kind.PROBABILITY: pa.float64(),
    Kind.COUNT: pa.int64(),
    Kind.BOOL: pa.bool_(),
}


@dataclass(frozen=True)
class Field:
    """One canonical column."""

    name: str
    kind: Kind
    required: bool
    description: str
    allowed: tuple[str, ...] = ()
    hs_digits: tuple[int, int] = (6, 10)
    default: str | float | int | bool | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class TableSchema:
    """An ordered set of fields with a primary key."""

    name: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    extras_allowed: bool = True
    require_one_of: tuple[tuple[str, ...], ...] = ()
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def arrow_schema(self, extra_columns: list[str] | None = None) -> pa.Schema:
        """Arrow schema of this table, with extra attribute columns appended."""
        cols = [pa.field(f.name, f.arrow_type) for f in self.fields]
        for name in extra_columns or []:
            cols.append(pa.field(name, extra_type(name)))
        return pa.schema(cols)


EXTRA_CATEGORICAL_PREFIX = "extra_cat__"
EXTRA_NUMERIC_PREFIX = "extra_num__"


def extra_column(name: str, *, numeric: bool) -> str:
    """Canonical column name of a source attribute carried outside the model."""
    return (EXTRA_NUMERIC_PREFIX if numeric else EXTRA_CATEGORICAL_PREFIX) + name


def is_extra(column: str) -> bool:
    return column.startswith((EXTRA_CATEGORICAL_PREFIX, EXTRA_NUMERIC_PREFIX))


def extra_type(column: str) -> pa.DataType:
    if column.startswith(EXTRA_NUMERIC_PREFIX):
        return pa.float64()
    if column.startswith(EXTRA_CATEGORICAL_PREFIX):
        return pa.string()
    raise ValueError(f"{column!r} is not an extra attribute column")


TRANSPORT_MODES = ("maritime", "air", "road", "rail", "postal", "express")
FILING_TYPES = ("pre_loading", "full")
CONTROL_TYPES = ("documentary", "physical", "scan", "post_release", "unknown")
SELECTION_BASES = ("rule", "model", "random", "unknown")
OUTCOMES = ("no_irregularity", "irregularity", "seizure")
RISK_TYPES = (
    "undervaluation",
    "misclassification",
    "origin",
    "ipr",
    "security",
    "operator",
    "other",
)
REPORTING_CURRENCY = "EUR"

F = Field
K = Kind

DECLARATIONS = TableSchema(
    name="declarations",
    description="Customs declarations (one goods item each), lodged for an importer.",
    key=("declaration_id",),
    fields=(
        F("declaration_id", K.ID, True, "Declaration reference (MRN or national id)."),
        F("lodged_at", K.TIMESTAMP, True, "When the declaration was lodged (UTC)."),
        F("office", K.CODE, False, "Customs office of lodgement."),
        F(
            "procedure",
            K.CODE,
            False,
            "Customs procedure code, e.g. 4000 (release for free circulation).",
        ),
        F("declarant_id", K.ID, False, "Declarant (often a customs broker), EORI."),
        F("importer_id", K.ID, True, "Importer, EORI."),
        F("seller_id", K.ID, False, "Seller (usually the consignor)."),
        F("seller_country", K.COUNTRY, False, "Seller's country."),
        F("buyer_id", K.ID, False, "Buyer."),
        F("origin_country", K.COUNTRY, True, "Declared country of origin."),
        F("dispatch_country", K.COUNTRY, False, "Country of dispatch/departure."),
        F("hs_code", K.HS, True, "HS/CN/TARIC commodity code, 6 to 10 digits."),
        F("description", K.TEXT, False, "Goods description."),
        F("net_mass_kg", K.AMOUNT, False, "Net mass in kilograms."),
        F("supplementary_units", K.AMOUNT, False, "Quantity in the tariff's supplementary unit."),
        F("customs_value", K.AMOUNT, True, "Customs value in the declared currency."),
        F(
            "currency",
            K.CURRENCY,
            False,
            "Currency of customs_value (ISO 4217).",
            default=REPORTING_CURRENCY,
        ),
        F(
            "customs_value_rc",
            K.AMOUNT,
            True,
            "Customs value converted to the reporting currency (EUR).",
        ),
        F(
            "duty_rate",
            K.RATE,
            False,
            "Applied duty rate as a fraction (0.12 = 12 %), anti-dumping included.",
        ),
        F("duty_amount", K.AMOUNT, False, "Duty declared, in the reporting currency."),
        F(
            "preference",
            K.CODE,
            False,
            "Tariff preference code (100 = none, 300 = preferential origin).",
        ),
        F(
            "transport_mode",
            K.ENUM,
            False,
            "Mode of transport at the border.",
            allowed=TRANSPORT_MODES,
        ),
        F("importer_aeo", K.BOOL, False, "Importer holds AEO authorisation.", default=False),
        F("declarant_aeo", K.BOOL, False, "Declarant holds AEO authorisation.", default=False),
        F("ens_id", K.ID, False, "Reference of the linked ENS filing (filing_id)."),
    ),
)

ENS_FILINGS = TableSchema(
    name="ens_filings",
    description="ICS2 entry summary declarations, one row per filing version.",
    key=("filing_id", "version"),
    fields=(
        F("filing_id", K.ID, True, "ENS filing reference."),
        F("version", K.COUNT, True, "Version number; amendments increase it.", default=1),
        F("filed_at", K.TIMESTAMP, True, "When this version was filed (UTC)."),
        F(
            "filing_type",
            K.ENUM,
            True,
            "pre_loading (air PLACI) or full ENS.",
            allowed=FILING_TYPES,
        ),
        F("transport_mode", K.ENUM, True, "Mode of transport.", allowed=TRANSPORT_MODES),
        F("carrier_id", K.ID, True, "Carrier (or postal/express operator) filing the ENS."),
        F("carrier_aeo", K.BOOL, False, "Carrier holds AEO authorisation.", default=False),
        F("consignor_id", K.ID, False, "Consignor (shipper, usually the seller)."),
        F("consignor_country", K.COUNTRY, False, "Consignor's country."),
        F("consignee_id", K.ID, False, "Consignee (usually the importer)."),
        F("consignee_country", K.COUNTRY, False, "Consignee's country."),
        F("place_of_loading", K.CODE, False, "UN/LOCODE of the place of loading."),
        F("itinerary", K.ITINERARY, False, "Ordered countries of routing, e.g. CN-SG-NL."),
        F("office_first_entry", K.CODE, False, "Customs office of first entry."),
        F("expected_arrival", K.TIMESTAMP, False, "Expected arrival at first entry (UTC)."),
    ),
)

ENS_ITEMS = TableSchema(
    name="ens_items",
    description="Goods items of ENS filings, one row per item per filing version.",
    key=("filing_id", "version", "item_no"),
    extras_allowed=False,
    fields=(
        F("filing_id", K.ID, True, "ENS filing reference."),
        F("version", K.COUNT, True, "Filing version the item belongs to.", default=1),
        F("item_no", K.COUNT, True, "Goods item number within the filing.", default=1),
        F("hs6", K.HS, True, "HS code at 6 digits.", hs_digits=(6, 6)),
        F("description", K.TEXT, False, "Goods description."),
        F("gross_mass_kg", K.AMOUNT, False, "Gross mass in kilograms."),
        F("packages", K.COUNT, False, "Number of packages."),
        F("containerised", K.BOOL, False, "Goods travel in a container.", default=False),
    ),
)

CONTROLS = TableSchema(
    name="controls",
    description="Results of customs controls: the labels. Only controlled consignments have one.",
    key=("control_id",),
    require_one_of=(("declaration_id", "ens_id"),),
    fields=(
        F("control_id", K.ID, True, "Control reference."),
        F("declaration_id", K.ID, False, "Controlled declaration (this or ens_id is required)."),
        F("ens_id", K.ID, False, "Controlled ENS filing (this or declaration_id is required)."),
        F("controlled_at", K.TIMESTAMP, True, "When the result was recorded (UTC)."),
        F(
            "control_type",
            K.ENUM,
            True,
            "Kind of control.",
            allowed=CONTROL_TYPES,
            default="unknown",
        ),
        F(
            "selection_basis",
            K.ENUM,
            True,
            "Why it was selected.",
            allowed=SELECTION_BASES,
            default="unknown",
        ),
        F("propensity", K.PROBABILITY, False, "Probability the declaration had of being selected."),
        F("outcome", K.ENUM, True, "Result of the control.", allowed=OUTCOMES),
        F("risk_type", K.ENUM, False, "Risk type found, when irregular.", allowed=RISK_TYPES),
        F(
            "revenue_recovered",
            K.AMOUNT,
            False,
            "Revenue recovered, reporting currency.",
            default=0.0,
        ),
    ),
)

TABLES: dict[str, TableSchema] = {
    t.name: t for t in (DECLARATIONS, ENS_FILINGS, ENS_ITEMS, CONTROLS)
}
