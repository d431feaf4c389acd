"""Read a mapping YAML file into a validated ``Mapping``, with readable errors.

The YAML loader is stricter than PyYAML's default so that codes survive as written:
only ``true``/``false`` are booleans (``NO`` stays Norway, ``Y`` stays ``Y``), numbers
with leading zeros stay text (``"01"``), dates stay text, and duplicate keys are errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from canonical.ingest.errors import IngestError
from canonical.ingest.mapping import Mapping


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars and duplicate-key detection."""

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 - PyYAML's class-level registry

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """Build a mapping, refusing a key given twice."""
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+|[0-9]+[eE][-+]?[0-9]+)$"
    ),
    list("-+.0123456789"),
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(path: tuple[object, ...]) -> list[str]:
    """Option names allowed at ``path`` in the mapping (empty if it cannot be told)."""
    model: type[BaseModel] | None = Mapping
    parts = list(path)
    while parts and model is not None:
        part = parts.pop(0)
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) is dict:
            parts = parts[1:]  # skip the dictionary key (a field or extra name)
            annotation = get_args(annotation)[1]
        model = _model_in(annotation)
    return list(model.model_fields) if model is not None and not parts else []


def _describe(error: dict) -> str:
    """One pydantic error as ``where: what``."""
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(tuple(error["loc"][:-1]))
        hint = f"allowed: {', '.join(allowed)}" if allowed else "see docs/mapping.md"
        return f"{loc}: unknown option ({hint})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}"


def parse_mapping(text: str, source: str = "<mapping>") -> Mapping:
    """Validate mapping YAML text; raise IngestError naming every problem found."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise IngestError(f"{source}: invalid YAML{where}: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise IngestError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError(f"{source}: the mapping must be a YAML mapping of options")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        raise IngestError(f"{source}: invalid mapping:\n{problems}") from exc


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise IngestError(f"{path}: mapping file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot read the mapping file: {exc}") from exc
    return parse_mapping(text, str(path))
