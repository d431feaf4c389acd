"""Validate canonical declarations Parquet (e.g. files to score) with the ingest checks.

A canonical file is ingested through an identity mapping (each canonical column feeds its
own field, extras their own extras), so it gets exactly the per-row checks and rejects of
``ingest_files``: one implementation of validation, whatever the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from canonical.ingest.errors import IngestError
from canonical.ingest.mapping import DeclarationsSection, EnsSection, Mapping
from canonical.ingest.pipeline import ingest_files
from canonical.ingest.summary import IngestSummary
from canonical.schema import (
    DECLARATIONS,
    ENS_FILINGS,
    ENS_ITEMS,
    EXTRA_CATEGORICAL_PREFIX,
    EXTRA_NUMERIC_PREFIX,
)


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


def _identity(names: list[str], schema_fields: Any) -> dict[str, Any]:
    """A mapping section where each canonical column feeds its own field, extras theirs."""
    fields = {name: {"column": name} for name in names if name in schema_fields}
    categorical = {
        n.removeprefix(EXTRA_CATEGORICAL_PREFIX): n
        for n in names
        if n.startswith(EXTRA_CATEGORICAL_PREFIX)
    }
    numeric = {
        n.removeprefix(EXTRA_NUMERIC_PREFIX): n for n in names if n.startswith(EXTRA_NUMERIC_PREFIX)
    }
    return {"fields": fields, "extra": {"categorical": categorical, "numeric": numeric}}


def _missing(path: Path, names: list[str], fields: Any, table: str) -> None:
    """IngestError when required columns of ``table`` are absent from ``path``."""
    missing = [f.name for f in fields if f.required and f.name not in names]
    if missing:
        raise IngestError(
            f"{path}: not a canonical {table} table: column(s) missing:"
            f" {', '.join(missing)}; give --mapping for other layouts"
        )


def canonical_mapping(path: Path, ens: Path | None = None) -> Mapping:
    """The identity mapping of a canonical declarations Parquet file's columns, and of a
    flattened canonical ENS file's (``flatten_ens``) when given."""
    names = _schema_names(path)
    _missing(path, names, DECLARATIONS.fields, "declarations")
    sections: dict[str, Any] = {"declarations": _identity(names, DeclarationsSection.SCHEMA_FIELDS)}
    if ens is not None:
        sections["ens"] = _identity(_schema_names(ens), EnsSection.SCHEMA_FIELDS)
    try:
        return Mapping.model_validate(sections)
    except ValidationError as exc:
        raise IngestError(f"{path}: not a canonical declarations table: {exc}") from exc


def flatten_ens(filings: Path, items: Path | None, out: Path) -> Path:
    """Canonical ens_filings (+ ens_items) as the one flattened ENS file that ingest reads:
    one row per goods item with its filing version's columns (a version without items:
    one row with empty item fields, which ingest reports as a missing item)."""
    _missing(filings, _schema_names(filings), ENS_FILINGS.fields, "ens_filings")
    f = pq.read_table(filings).to_pandas()
    if items is not None and items.exists():
        _missing(items, _schema_names(items), ENS_ITEMS.fields, "ens_items")
        i = pq.read_table(items).to_pandas()
        f = f.merge(i, on=["filing_id", "version"], how="left", sort=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(f, preserve_index=False), out)
    return out


def ingest_canonical(declarations: Path, out: Path, ens: Path | None = None) -> IngestSummary:
    """Validate a canonical declarations file, and the canonical ENS tables when given
    (``ens``: ens_filings Parquet, its ens_items.parquet beside it), row by row into
    ``out`` (tables and rejects)."""
    declarations = Path(declarations)
    flat = None
    if ens is not None:
        items = Path(ens).with_name("ens_items.parquet")
        flat = flatten_ens(Path(ens), items, out.parent / f"{out.name}-ens-flat.parquet")
    try:
        return ingest_files(declarations, canonical_mapping(declarations, flat), out, ens=flat)
    finally:
        if flat is not None:
            flat.unlink(missing_ok=True)
