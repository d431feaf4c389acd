"""Read a source file (CSV or Parquet) into text columns, or explain why it cannot be read.

Every column is read as text so that codes keep their leading zeros and numbers are
parsed once, exactly, by the field parsers; only the columns the mapping uses are kept.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from canonical.ingest.errors import IngestError

PARQUET_SUFFIXES = (".parquet", ".pq")
_SHOWN = 5


@dataclass(frozen=True)
class SourceTable:
    """Text columns of one source file, by source column name."""

    path: Path
    columns: dict[str, pa.ChunkedArray]
    num_rows: int


def _missing_columns(path: Path, wanted: list[str], available: list[str]) -> None:
    """Raise IngestError when a mapped column is not in the file."""
    missing = [c for c in wanted if c not in available]
    if missing:
        raise IngestError(
            f"{path}: mapped column(s) missing from the file: {', '.join(map(repr, missing))};"
            f" available columns: {', '.join(map(repr, available))}"
        )


def _decode_error_place(path: Path, encoding: str) -> str:
    """Where the first undecodable byte is, as ``line L, column C``, or a note if not found."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return f"line {line}, column {column} (byte 0x{data[exc.start]:02x})"
    return "position unknown"


def _encoding_error(path: Path, encoding: str) -> IngestError:
    """IngestError for bytes that are not valid in the declared encoding."""
    place = _decode_error_place(path, encoding)
    return IngestError(
        f"{path}: bad encoding: bytes that are not valid {encoding} at {place};"
        " set `encoding:` in the mapping section (e.g. latin-1, cp1252)"
    )


def _header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """Column names from the first line, decoded strictly."""
    # Through a text decoder: a byte readline would cut a multi-byte newline (UTF-16).
    try:
        with path.open("r", encoding=encoding, errors="strict", newline="") as handle:
            line = handle.readline()
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, encoding) from exc
    line = line.removeprefix("\ufeff").rstrip("\r\n")
    if not line.strip():
        raise IngestError(f"{path}: empty file or empty header line")
    names = next(csv.reader([line], delimiter=delimiter))
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise IngestError(f"{path}: duplicate column names in the header: {', '.join(duplicated)}")
    return names


def _ragged_message(path: Path, rows: list[pacsv.InvalidRow]) -> str:
    """Describe ragged rows by line number (1-based, header is line 1)."""
    first = rows[0]
    where = f"line {first.number}" if first.number is not None else "a row"
    text = first.text if len(first.text) <= 80 else first.text[:77] + "..."
    message = (
        f"{path}: ragged row at {where}: expected {first.expected_columns} fields,"
        f" found {first.actual_columns}: {text!r}"
    )
    if len(rows) > 1:
        others = [str(r.number) for r in rows[1 : 1 + _SHOWN] if r.number is not None]
        more = f" (lines {', '.join(others)}{', ...' if len(rows) > 1 + _SHOWN else ''})"
        message += f"; {len(rows) - 1} more ragged row(s){more if others else ''}"
    return message


def _read_csv_once(
    path: Path, names: list[str], wanted: list[str], encoding: str, delimiter: str, threads: bool
) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    """One pyarrow CSV pass; ragged rows are collected rather than raised."""
    ragged: list[pacsv.InvalidRow] = []

    def handler(row: pacsv.InvalidRow) -> str:
        """Collect a ragged row and skip it (reported after the pass)."""
        ragged.append(row)
        return "skip"

    arrow_encoding = "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=arrow_encoding, use_threads=threads),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=handler),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=wanted,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


def read_csv(
    path: Path, wanted: list[str], *, encoding: str = "utf-8", delimiter: str = ","
) -> SourceTable:
    """Read the ``wanted`` columns of a CSV file as text."""
    names = _header(path, encoding, delimiter)
    _missing_columns(path, wanted, names)
    try:
        table, ragged = _read_csv_once(path, names, wanted, encoding, delimiter, threads=True)
        if ragged and ragged[0].number is None:
            _, ragged = _read_csv_once(path, names, wanted, encoding, delimiter, threads=False)
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, encoding) from exc
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _encoding_error(path, encoding) from exc
        raise IngestError(f"{path}: cannot parse the CSV file: {exc}") from exc
    if ragged:
        raise IngestError(_ragged_message(path, ragged))
    columns = {name: table.column(name) for name in wanted}
    return SourceTable(path=path, columns=columns, num_rows=table.num_rows)


def _as_text(path: Path, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as text (numbers in shortest round-trip form, timestamps ISO)."""
    if pa.types.is_string(column.type):
        return column
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise IngestError(
            f"{path}: column {name!r} of type {column.type} cannot be read as text"
        ) from exc


def read_parquet(path: Path, wanted: list[str]) -> SourceTable:
    """Read the ``wanted`` columns of a Parquet file as text."""
    try:
        available = pq.read_schema(path).names
        _missing_columns(path, wanted, available)
        table = pq.read_table(path, columns=wanted)
    except IngestError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise IngestError(f"{path}: unreadable Parquet file: {exc}") from exc
    columns = {name: _as_text(path, name, table.column(name)) for name in wanted}
    return SourceTable(path=path, columns=columns, num_rows=table.num_rows)


def read_source(
    path: Path, wanted: list[str], *, encoding: str = "utf-8", delimiter: str = ","
) -> SourceTable:
    """Read a CSV or Parquet source (by suffix) into text columns."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: file not found")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return read_parquet(path, wanted)
    try:
        return read_csv(path, wanted, encoding=encoding, delimiter=delimiter)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file: {exc}") from exc
