"""The decision log's archive: decisions older than the retention window, as Parquet by day.

Layout under the archive directory (Hive-style, so ``pyarrow.dataset`` and pandas read
it as one table with a ``day`` column)::

    day=2026-01-31/part-<first rowid>-<last rowid>.parquet
    feature_specs.json      # feature spec hash -> ordered feature names

One part holds the decisions of one UTC day (by ``decided_at``) taken from the log in
one archiving run, in log (rowid) order; feature vectors and TreeSHAP contributions are
lists of float32, reasons and the declaration JSON text, as in the log. A part is
written to a temporary name and renamed once complete (fsynced), so a reader never sees
half a part; its rows are deleted from SQLite only afterwards (``DecisionLog.archive``),
so a crash in between leaves rows both in the log and in a part the log's ledger does
not list: the next run removes such a part before writing it again, and
``read_archive`` drops repeated decision ids in any case.

``read_archive(directory, start, end)`` is the one reader other code calls (reports,
retraining): decisions with ``start <= decided_at < end``, oldest first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

SPECS_FILE = "feature_specs.json"
VECTOR = pa.list_(pa.float32())
ARCHIVE_SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("declaration_id", pa.string()),
        ("decided_at", pa.string()),
        ("request_id", pa.string()),
        ("request_hash", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("model_alias", pa.string()),
        ("feature_spec_hash", pa.string()),
        ("score", pa.float64()),
        ("expected_revenue", pa.float64()),
        ("risk_band", pa.string()),
        ("risk_type", pa.string()),
        ("selected", pa.bool_()),
        ("basis", pa.string()),
        ("propensity", pa.float64()),
        ("random_probability", pa.float64()),
        ("threshold", pa.float64()),
        ("reasons", pa.string()),
        ("features", VECTOR),
        ("declaration", pa.string()),
        ("contributions", VECTOR),
        ("shap_base", pa.float64()),
    ]
)


def day_dir(directory: Path, day: str) -> Path:
    """The folder of one UTC day (``YYYY-MM-DD``)."""
    return directory / f"day={day}"


def part_name(first_rowid: int, last_rowid: int) -> str:
    """The file name of the part holding log rows ``first_rowid``..``last_rowid``."""
    return f"part-{first_rowid:012d}-{last_rowid:012d}.parquet"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_part(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` (dicts of ``ARCHIVE_SCHEMA``'s columns) to ``path`` atomically and
    durably: a temporary file, fsynced, renamed, the folder fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=ARCHIVE_SCHEMA)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as sink:
        pq.write_table(table, sink, compression="zstd")
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)
    return path


def write_specs(directory: Path, specs: dict[str, list[str]]) -> None:
    """Merge ``specs`` (hash -> names) into the archive's ``feature_specs.json``."""
    path = directory / SPECS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    if all(known.get(k) == v for k, v in specs.items()):
        return
    known.update(specs)
    temporary = path.with_name(f".{SPECS_FILE}.tmp")
    temporary.write_text(json.dumps(known, sort_keys=True))
    os.replace(temporary, path)


def feature_specs(directory: Path) -> dict[str, list[str]]:
    """Feature names by spec hash, for the vectors of the archive's decisions."""
    path = Path(directory) / SPECS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def vector(blob: bytes | None, dtype: str | None) -> list[float] | None:
    """A stored vector (``dtype`` "<f4", or NULL for the float64 of older rows) as floats."""
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=dtype or "<f8").astype(np.float32).tolist()


def _bound(value: datetime | date | str | None) -> str | None:
    """An ISO 8601 UTC bound comparable with ``decided_at`` text (dates at midnight)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _days(directory: Path, start: str | None, end: str | None) -> Iterable[Path]:
    for folder in sorted(directory.glob("day=*")):
        day = folder.name.removeprefix("day=")
        if start is not None and day < start[:10]:
            continue
        if end is not None and day > end[:10]:
            continue
        yield folder


def read_archive(
    directory: Path,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Archived decisions with ``start <= decided_at < end`` (either open), oldest first,
    one row per decision id (a repeat left by an interrupted run is dropped). Bounds are
    datetimes (naive read as UTC), dates (midnight UTC) or ISO 8601 strings. ``features``
    and ``contributions`` are float32 lists named by ``feature_specs(directory)`` under
    the row's ``feature_spec_hash``; ``columns`` limits what is read."""
    low, high = _bound(start), _bound(end)
    wanted = list(ARCHIVE_SCHEMA.names) if columns is None else list(columns)
    read = list(dict.fromkeys([*wanted, "decision_id", "decided_at"]))
    tables = [
        pq.read_table(part, columns=read)
        for folder in _days(Path(directory), low, high)
        for part in sorted(folder.glob("part-*.parquet"))
    ]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})
    frame = pa.concat_tables(tables).to_pandas()
    keep = np.ones(len(frame), dtype=bool)
    if low is not None:
        keep &= (frame["decided_at"] >= low).to_numpy()
    if high is not None:
        keep &= (frame["decided_at"] < high).to_numpy()
    frame = frame[keep].drop_duplicates("decision_id")
    frame = frame.sort_values("decided_at", kind="stable").reset_index(drop=True)
    return frame[wanted]


def latest_decisions(
    directory: Path, declaration_ids: list[str]
) -> dict[str, tuple[str, str, float]]:
    """(decided_at, basis, propensity) of the latest archived decision on each of
    ``declaration_ids`` that has one (four columns read, filtered as they are read)."""
    parts = sorted(Path(directory).glob("day=*/part-*.parquet"))
    if not parts or not declaration_ids:
        return {}
    table = ds.dataset([str(p) for p in parts], format="parquet").to_table(
        columns=["declaration_id", "decided_at", "basis", "propensity"],
        filter=pc.field("declaration_id").isin(pa.array(declaration_ids, pa.string())),
    )
    latest: dict[str, tuple[str, str, float]] = {}
    for d, t, b, p in zip(*(table[c].to_pylist() for c in table.column_names), strict=True):
        if d not in latest or t > latest[d][0]:
            latest[d] = (t, b, float(p))
    return latest
