"""Canonical tables in memory and on disk: one dtype per kind, Parquet storage.

Tables travel between packages as pandas DataFrames with fixed dtypes (strings as
Arrow-backed ``string``, timestamps as UTC ``datetime64[ns]``, nullable booleans and
integers), so that a frame from the generator and one from ingestion compare equal.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from canonical.schema import TABLES, TableSchema, is_extra

_STRING = pd.StringDtype("pyarrow")


def _pandas_types(arrow_type: pa.DataType) -> object | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _STRING
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()
    return None


def table_columns(frame_columns: list[str], schema: TableSchema) -> tuple[list[str], list[str]]:
    """Split a frame's columns into missing canonical fields and extra attributes."""
    missing = [name for name in schema.names if name not in frame_columns]
    extras = sorted(c for c in frame_columns if is_extra(c))
    return missing, extras


def to_arrow(frame: pd.DataFrame, schema: TableSchema) -> pa.Table:
    """Canonical Arrow table from a frame; absent optional fields become nulls."""
    missing, extras = table_columns(list(frame.columns), schema)
    absent_required = [m for m in missing if m in schema.required]
    if absent_required:
        raise ValueError(f"{schema.name}: required columns absent: {', '.join(absent_required)}")
    unknown = [c for c in frame.columns if c not in schema and not is_extra(c)]
    if unknown:
        raise ValueError(f"{schema.name}: columns outside the model: {', '.join(unknown)}")
    arrow_schema = schema.arrow_schema(extras)
    n = len(frame)
    arrays = []
    for fld in arrow_schema:
        if fld.name in frame.columns:
            arrays.append(pa.array(frame[fld.name], type=fld.type, from_pandas=True))
        else:
            arrays.append(pa.nulls(n, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Pandas frame with the canonical dtypes."""
    return table.to_pandas(types_mapper=_pandas_types)


def conform(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
    """Return ``frame`` with canonical column order and dtypes (a new frame)."""
    schema = TABLES[table_name]
    return to_pandas(to_arrow(frame, schema))


def write_table(frame: pd.DataFrame | pa.Table, table_name: str, path: Path) -> Path:
    """Write a canonical table as Parquet (Snappy, dictionary-encoded strings)."""
    schema = TABLES[table_name]
    table = frame if isinstance(frame, pa.Table) else to_arrow(frame, schema)
    missing, extras = table_columns(table.column_names, schema)
    if missing or not table.schema.equals(schema.arrow_schema(extras)):
        table = to_arrow(to_pandas(table), schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")
    return path


def read_table(path: Path, table_name: str) -> pd.DataFrame:
    """Read a canonical Parquet table written by ``write_table``."""
    table = pq.read_table(path)
    return conform(to_pandas(table), table_name)


TABLE_FILES: dict[str, str] = {name: f"{name}.parquet" for name in TABLES}


def read_dataset(directory: Path) -> dict[str, pd.DataFrame]:
    """All canonical tables present in a directory, keyed by table name."""
    out: dict[str, pd.DataFrame] = {}
    for name, filename in TABLE_FILES.items():
        path = directory / filename
        if path.exists():
            out[name] = read_table(path, name)
    return out
