"""Request and response models of the API; request models are built from the canonical
schema (``canonical.schema``), so the API accepts exactly the canonical fields.

Each canonical kind maps to one strict pydantic type (no coercion of "12" to 12 or of
1 to True), constrained as the ingester validates it; unknown fields are refused
(``extra="forbid"``). Timestamps are ISO-8601 date-times as text
(``2025-03-01T08:30:00Z``, ``2025-03-01T09:30:00+01:00``); one without a zone is read as
UTC; a number (an epoch) or a date alone is refused with a field error. An ENS may be
embedded in a declaration (all its versions and items); ``attributes`` carries an
administration's own extra attributes (``extra_cat__``/``extra_num__`` columns).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    create_model,
    model_validator,
)
from typing_extensions import TypedDict

from canonical.codes import COUNTRIES, CURRENCIES
from canonical.schema import (
    CONTROLS,
    DECLARATIONS,
    ENS_FILINGS,
    ENS_ITEMS,
    EXTRA_CATEGORICAL_PREFIX,
    EXTRA_NUMERIC_PREFIX,
    Kind,
    TableSchema,
)
from canonical.schema import Field as CanonicalField
from serving.examples import EXAMPLE_CONTROL_RESULT, EXAMPLE_DECLARATION, EXAMPLE_ENS

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_AMOUNT = 1e13
MAX_VERSIONS = 100
MAX_ITEMS = 1_000
MAX_ATTRIBUTES = 50
MAX_BATCH = 10_000  # declarations per batch request


_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TIMESTAMP_FORMAT = "an ISO-8601 date and time such as 2025-03-01T08:30:00Z"


def _date_time_text(value: Any) -> Any:
    """Only ISO-8601 date-times (text, or a datetime from Python callers) reach pydantic's
    parser, which would also read numbers as epochs and a date as its midnight."""
    if isinstance(value, datetime):
        return value
    if not (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        raise ValueError(
            f"timestamp must be {TIMESTAMP_FORMAT}, as text (not a number, not a date alone)"
        )
    return value


def _utc(value: datetime) -> datetime:
    """A timestamp as UTC (naive means UTC), within 1990-2100."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError("timestamp must be between 1990-01-01 and 2100-01-01")
    return value


def _itinerary(value: str) -> str:
    unknown = [c for c in value.split("-") if c not in COUNTRIES]
    if unknown:
        raise ValueError(f"unknown country code(s) in itinerary: {', '.join(unknown)}")
    return value


Identifier = Annotated[
    StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
]
Code = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$")]
Timestamp = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_utc)]


def _type(f: CanonicalField) -> Any:
    """The pydantic type of a canonical field."""
    lo, hi = f.hs_digits
    K = Kind  # noqa: N806
    types: dict[Kind, Any] = {
        K.ID: Identifier,
        K.TEXT: Annotated[StrictStr, StringConstraints(max_length=2000)],
        K.CODE: Code,
        K.COUNTRY: Literal[tuple(sorted(COUNTRIES))],
        K.CURRENCY: Literal[tuple(sorted(CURRENCIES))],
        K.HS: Annotated[StrictStr, StringConstraints(pattern=rf"^[0-9]{{{lo},{hi}}}$")],
        K.ITINERARY: Annotated[
            StrictStr,
            StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z]{2}){0,29}$"),
            AfterValidator(_itinerary),
        ],
        K.TIMESTAMP: Timestamp,
        K.AMOUNT: Annotated[float, Field(strict=True, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)],
        K.RATE: Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)],
        K.PROBABILITY: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)],
        K.COUNT: Annotated[StrictInt, Field(ge=0, le=10_000_000)],
        K.BOOL: StrictBool,
    }
    if f.kind is Kind.ENUM:
        return Literal[f.allowed]
    return types[f.kind]


def _fields(table: TableSchema) -> dict[str, Any]:
    """create_model field definitions of a canonical table: a field with a canonical
    default is optional (None; the default applies downstream), as is any optional one."""
    out: dict[str, Any] = {}
    for f in table.fields:
        kind = _type(f)
        if f.required and f.default is None:
            out[f.name] = (kind, Field(description=f.description))
        else:
            out[f.name] = (kind | None, Field(None, description=f.description))
    return out


STRICT = ConfigDict(extra="forbid", str_max_length=4000)


def _members(table: TableSchema) -> dict[str, Any]:
    """TypedDict members of a canonical table: a field with a canonical default is
    optional and may be null (the default applies downstream), as is any optional one."""
    out: dict[str, Any] = {}
    for f in table.fields:
        if f.required and f.default is None:
            out[f.name] = Required[Annotated[_type(f), Field(description=f.description)]]
        else:
            out[f.name] = NotRequired[Annotated[_type(f) | None, Field(description=f.description)]]
    return out


def _typed_dict(name: str, doc: str, members: dict[str, Any], **config: Any) -> Any:
    """A request type validated straight into plain dicts: no model objects to build and
    dump again (on a batch of 1,000 declarations, validating, storing and featurising
    took about half the time it took with models; measured)."""
    typed = TypedDict(name, members, total=False)  # type: ignore[operator]
    typed.__doc__ = doc
    typed.__pydantic_config__ = ConfigDict(**STRICT, **config)  # type: ignore[attr-defined]
    return typed


EnsFiling = _typed_dict(
    "EnsFiling", "One version of an ENS filing (canonical ens_filings row).", _members(ENS_FILINGS)
)
EnsItem = _typed_dict(
    "EnsItem",
    "A goods item of an ENS filing version (canonical ens_items row).",
    _members(ENS_ITEMS),
)
EnsEmbedded = _typed_dict(
    "EnsEmbedded",
    "The declaration's linked ENS: every version filed so far and their goods items.",
    {
        "versions": Required[
            Annotated[list[EnsFiling], Field(min_length=1, max_length=MAX_VERSIONS)]
        ],
        "items": NotRequired[Annotated[list[EnsItem], Field(max_length=MAX_ITEMS)]],
    },
    json_schema_extra={"examples": [EXAMPLE_ENS]},
)

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
AttributeName = Annotated[StrictStr, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _check_ens(value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
    """The embedded ENS must be the filing named by ens_id, each version once."""
    if value is None:
        return value
    ens_id = info.data.get("ens_id")
    if ens_id is None:
        raise ValueError("an embedded ens needs the declaration's ens_id")
    seen: set[int | None] = set()
    for i, v in enumerate(value["versions"]):
        if v["filing_id"] != ens_id:
            raise ValueError(f"ens.versions[{i}].filing_id differs from ens_id")
        version = v.get("version")
        if version in seen:
            raise ValueError(f"ens.versions[{i}]: version {version} appears twice")
        seen.add(version)
    for i, item in enumerate(value.get("items", ())):
        if item["filing_id"] != ens_id:
            raise ValueError(f"ens.items[{i}].filing_id differs from ens_id")
    return value


Declaration = _typed_dict(
    "Declaration",
    "A customs declaration in the canonical model, its ENS optionally embedded.",
    {
        **_members(DECLARATIONS),
        "ens": NotRequired[
            Annotated[
                EnsEmbedded | None,
                AfterValidator(_check_ens),
                Field(description="The linked ENS filing (all versions and items), optional."),
            ]
        ],
        "attributes": NotRequired[
            Annotated[
                dict[AttributeName, StrictStr | FiniteFloat | None] | None,
                Field(
                    max_length=MAX_ATTRIBUTES,
                    description="The administration's own extra attributes: text values"
                    " become extra_cat__NAME, numbers extra_num__NAME columns.",
                ),
            ]
        ],
    },
    title="Declaration",
    json_schema_extra={"examples": [EXAMPLE_DECLARATION]},
)
DECLARATION = TypeAdapter(Declaration)


def _present(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}


def scoring_record(declaration: dict[str, Any]) -> dict[str, Any]:
    """The canonical dict ``Scorer.score_records`` takes from a validated declaration:
    no nulls (a canonical default applies instead), attributes as
    ``extra_cat__``/``extra_num__`` fields."""
    record = _present(declaration)
    ens = record.get("ens")
    if ens is not None:
        record["ens"] = {
            "versions": [_present(v) for v in ens["versions"]],
            "items": [_present(i) for i in ens.get("items", ())],
        }
    return flat_record(record)


def flat_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (a declaration as the API takes it) with its ``attributes`` spread into
    ``extra_cat__``/``extra_num__`` fields, as scoring reads them; changes ``record``."""
    for name, value in (record.pop("attributes", None) or {}).items():
        if value is not None:
            prefix = EXTRA_CATEGORICAL_PREFIX if isinstance(value, str) else EXTRA_NUMERIC_PREFIX
            record[prefix + name] = value
    return record


def declaration_json(declaration: dict[str, Any]) -> bytes:
    """A validated declaration as compact JSON without nulls, fields in schema order:
    what the decision log keeps and the request hash is taken over."""
    return DECLARATION.dump_json(declaration, exclude_none=True)


_ONE_REFERENCE = [
    {"required": [name], "properties": {name: {"type": "string"}}}
    for name in ("declaration_id", "ens_id")
]


class _ControlBase(BaseModel):
    model_config = ConfigDict(
        **STRICT,
        title="ControlResult",
        json_schema_extra={"examples": [EXAMPLE_CONTROL_RESULT], "anyOf": _ONE_REFERENCE},
    )

    @model_validator(mode="after")
    def _one_reference(self) -> _ControlBase:
        if getattr(self, "declaration_id", None) is None and getattr(self, "ens_id", None) is None:
            raise ValueError("a control result needs declaration_id or ens_id")
        return self


ControlResult = create_model(
    "ControlResult",
    __base__=_ControlBase,
    __doc__="The result of a customs control (canonical controls row).",
    **_fields(CONTROLS),
)


class ControlResultsRequest(BaseModel):
    """Control results to record (all or nothing)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"results": [EXAMPLE_CONTROL_RESULT]}]}
    )

    results: list[ControlResult] = Field(min_length=1, max_length=10_000)  # type: ignore[valid-type]


class ControlStatus(BaseModel):
    """What happened to one posted result."""

    control_id: str
    status: Literal["created", "unchanged"]


class ControlResultsResponse(BaseModel):
    """Per result: created, or unchanged (already recorded with the same content)."""

    results: list[ControlStatus]


# --- responses ----------------------------------------------------------------------


class ModelRefOut(BaseModel):
    """The model that scored: registered name, version and the alias it was loaded by."""

    name: str
    version: str
    alias: str | None = None


class DecisionOut(BaseModel):
    """Whether to control, why, and the probability the policy had of selecting it."""

    selected: bool
    basis: Literal["model", "random", "none"]
    propensity: float = Field(ge=0, le=1)


class ReasonOut(BaseModel):
    """A reason code with its family, text, strongest feature, its value against its
    baseline, and its contribution."""

    code: str
    family: str
    text: str
    feature: str
    value: float | None = Field(
        None,
        description="The feature's value, in the text's units (EUR/kg, a rate as a fraction,"
        " days...); without a specific text, the feature as the model saw it.",
    )
    baseline: float | None = Field(
        None,
        description="What the value is compared with, in the same units (median EUR/kg,"
        " overall hit rate, the heading's highest duty...); null when the feature has none.",
    )
    contribution: float = Field(description="The reason's summed TreeSHAP contribution (log-odds).")


class ScoreResponse(BaseModel):
    """The decision on one declaration."""

    decision_id: str
    declaration_id: str
    score: float = Field(ge=0, le=1, description="Calibrated probability of an irregularity.")
    expected_revenue: float = Field(description="Expected revenue at stake (EUR).")
    risk_band: Literal["high", "medium", "low"]
    risk_type: str = Field(description="Most likely risk type.")
    decision: DecisionOut
    reasons: list[ReasonOut] | None = Field(
        None, description="Top reasons, strongest first (null when reasons were turned off)."
    )
    model: ModelRefOut
    ens_status: Literal["filed", "not_filed", "not_sent"] = Field(
        description="filed: the ENS was embedded; not_filed: the declaration names no ENS;"
        " not_sent: an ens_id without its ENS, scored without knowing the filing (see"
        " warnings), never as evidence that none was filed."
    )
    warnings: list[str] = Field(
        default_factory=list, description="What the score could not take into account."
    )


class BatchItemOut(ScoreResponse):
    """A scored declaration of a batch, with its position in the request."""

    index: int


class ItemError(BaseModel):
    """A declaration of a batch that failed validation: its index, field path and why."""

    index: int
    loc: list[str | int]
    msg: str
    type: str


class BatchScoreRequest(BaseModel):
    """Up to 10,000 declarations; invalid ones are reported, the others scored."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"declarations": [EXAMPLE_DECLARATION]}]}
    )

    declarations: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Declarations (see Declaration). Each is validated on its own: an item"
        " that is not a valid Declaration is reported in the response's errors.",
    )


def batch_request_schema() -> dict[str, Any]:
    """The OpenAPI schema of a batch body: each item a Declaration (else reported)."""
    schema = BatchScoreRequest.model_json_schema()
    schema["properties"]["declarations"]["items"] = {
        "anyOf": [{"$ref": "#/components/schemas/Declaration"}, {}]
    }
    return schema


class BatchScoreResponse(BaseModel):
    """Decisions on the valid declarations and the errors of the others."""

    results: list[BatchItemOut]
    errors: list[ItemError]
    model: ModelRefOut | None


class DecisionDetail(DecisionOut):
    """The decision as logged: also the random arm's probability and the threshold."""

    random_probability: float
    threshold: float | None = Field(
        description="Score threshold of the model arm; null when the arm selects nothing"
        " (its rate keeps no score of the window above a threshold)."
    )


class LoggedModel(ModelRefOut):
    """The model of a logged decision and its feature spec."""

    feature_spec_hash: str


class DecisionRecordOut(BaseModel):
    """A decision as stored in the decision log."""

    decision_id: str
    declaration_id: str
    decided_at: str
    request_id: str
    request_hash: str
    model: LoggedModel
    score: float
    expected_revenue: float
    risk_band: str
    risk_type: str
    decision: DecisionDetail
    reasons: list[ReasonOut] | None
    features: dict[str, float | None]
    contributions: dict[str, float | None] | None = Field(
        None,
        description="TreeSHAP contribution of each feature to the tree model's log-odds,"
        " when reasons were computed for the decision (null otherwise).",
    )
    shap_base: float | None = Field(
        None, description="The tree model's mean log-odds: shap_base + contributions = log-odds."
    )
    declaration: dict[str, Any]


class SelectionOut(BaseModel):
    """The selection policy and its state."""

    inspection_rate: float
    exploration_share: float
    model_rate: float
    random_probability: float
    threshold: float | None = Field(description="null when the model arm selects nothing.")
    warm: bool
    recent_selection_rate: float | None


class ModelInfoOut(ModelRefOut):
    """The model in service."""

    source: str
    feature_spec_hash: str
    provider: str
    loaded_at: str
    training_window: dict[str, Any]
    bands: dict[str, float]
    git_commit: str | None
    selection: SelectionOut


class ReloadRequest(BaseModel):
    """Which model to load; the configured URI when omitted."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"model_uri": "models:/targeting/7"}]}
    )

    model_uri: StrictStr | None = Field(
        None, max_length=1000, examples=["models:/targeting@champion"]
    )


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class StorageOut(BaseModel):
    """Whether the decision log takes writes, and if not why."""

    ok: bool
    error: str | None = None


class ReadyOut(BaseModel):
    """Readiness: the bundle is loaded and the decision log takes writes; on which
    execution provider the model runs."""

    ready: bool
    model: ModelRefOut | None = None
    provider: str | None = None
    decision_log: StorageOut | None = None
    draining: bool = False


class ErrorOut(BaseModel):
    """An error with a message for people."""

    detail: Any
