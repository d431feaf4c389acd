"""Validate canonical declarations Parquet (e.g. files to score) with the ingest checks.

A canonical file is ingested through an identity mapping (each canonical column feeds its
own field, extras their own extras), so it gets exactly the per-row checks and rejects of
``ingest_files``: one implementation of validation, whatever the source.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from canonical.ingest.errors import IngestError
from canonical.ingest.mapping import DeclarationsSection, Mapping
from canonical.ingest.pipeline import ingest_files
from canonical.ingest.summary import IngestSummary
from canonical.schema import DECLARATIONS, EXTRA_CATEGORICAL_PREFIX, EXTRA_NUMERIC_PREFIX


def _schema_names(path: Path) -> list[str]:
    """Column names of a Parquet file, or an IngestError saying why it cannot be read."""
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise IngestError(
            f"{path}: not a readable Parquet file ({exc}); give --mapping for other formats"
        ) from exc


def canonical_mapping(path: Path) -> Mapping:
    """The identity mapping of a canonical declarations Parquet file's columns."""
    names = _schema_names(path)
    missing = [f.name for f in DECLARATIONS.fields if f.required and f.name not in names]
    if missing:
        raise IngestError(
            f"{path}: not a canonical declarations table: column(s) missing:"
            f" {', '.join(missing)}; give --mapping for other layouts"
        )
    fields = {name: {"column": name} for name in names if name in DeclarationsSection.SCHEMA_FIELDS}
    categorical = {
        n.removeprefix(EXTRA_CATEGORICAL_PREFIX): n
        for n in names
        if n.startswith(EXTRA_CATEGORICAL_PREFIX)
    }
    numeric = {
        n.removeprefix(EXTRA_NUMERIC_PREFIX): n for n in names if n.startswith(EXTRA_NUMERIC_PREFIX)
    }
    section = {"fields": fields, "extra": {"categorical": categorical, "numeric": numeric}}
    try:
        return Mapping.model_validate({"declarations": section})
    except ValidationError as exc:
        raise IngestError(f"{path}: not a canonical declarations table: {exc}") from exc


def ingest_canonical(declarations: Path, out: Path) -> IngestSummary:
    """Validate a canonical declarations file row by row into ``out`` (tables and rejects)."""
    declarations = Path(declarations)
    return ingest_files(declarations, canonical_mapping(declarations), out)
