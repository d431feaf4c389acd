"""Ingestion of an administration's own files (CSV or Parquet) into the canonical model.

A YAML mapping (see docs/mapping.md) says which source column feeds which canonical
field and how to read it; ``ingest_files`` validates every row, keeps the good ones as
canonical Parquet tables and explains each rejected field in ``rejects.csv``.
"""

from __future__ import annotations

from canonical.ingest.errors import IngestError
from canonical.ingest.mapping import Mapping
from canonical.ingest.mapping_file import load_mapping, parse_mapping
from canonical.ingest.numbers import shifted_text
from canonical.ingest.pipeline import REJECTS_FILE, SUMMARY_FILE, ingest_files
from canonical.ingest.reasons import REASONS
from canonical.ingest.summary import IngestSummary, TableReport

__all__ = [
    "REASONS",
    "REJECTS_FILE",
    "SUMMARY_FILE",
    "IngestError",
    "IngestSummary",
    "Mapping",
    "TableReport",
    "ingest_files",
    "load_mapping",
    "parse_mapping",
    "shifted_text",
]
