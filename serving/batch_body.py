"""The body of ``POST /v1/score/batch``, read without FastAPI's body parsing.

Usually every declaration of a batch is valid: the whole body is then validated in one
pass from its bytes (pydantic-core parses the JSON itself), instead of ``json.loads``
and a validation per item. When any item is invalid, the body is parsed again and the
envelope checked, and the route validates the items one by one to report each error
with its index. Errors are ``RequestValidationError``s, so they read like FastAPI's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Required

from fastapi.exceptions import RequestValidationError
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from serving.schemas import MAX_BATCH, BatchScoreRequest, Declaration


class _AllValid(TypedDict):
    """A batch whose declarations are all valid (the fast path's type)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    declarations: Required[Annotated[list[Declaration], Field(min_length=1, max_length=MAX_BATCH)]]  # type: ignore[valid-type]


_ALL_VALID = TypeAdapter(_AllValid)


@dataclass(frozen=True)
class BatchItems:
    """The declarations of a batch: validated dicts when ``valid``, else the items as
    sent, to be validated one by one."""

    declarations: list[Any]
    valid: bool


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # as FastAPI: no content type is read as JSON
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def read_batch(body: bytes, content_type: str | None) -> BatchItems:
    """The declarations of a batch body; RequestValidationError when the body is not
    JSON (nested too deeply included) or not a batch (no list of 1 to 10,000 items,
    other fields)."""
    if not _is_json(content_type):
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": "the body must be JSON (application/json)",
                    "type": "json_type",
                }
            ]
        )
    try:
        return BatchItems(_ALL_VALID.validate_json(body)["declarations"], valid=True)
    except ValidationError:
        pass
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"loc": ("body", exc.pos), "msg": "JSON decode error", "type": "json_invalid"}]
        ) from None
    except UnicodeDecodeError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body is not UTF-8 text", "type": "json_invalid"}]
        ) from None
    except RecursionError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "JSON nested too deeply", "type": "json_invalid"}]
        ) from None
    except ValueError:  # any other refusal of the JSON decoder (a 4xx, never a 500)
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "JSON decode error", "type": "json_invalid"}]
        ) from None
    try:
        envelope = BatchScoreRequest.model_validate(parsed)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            ]
        ) from None
    return BatchItems(envelope.declarations, valid=False)
