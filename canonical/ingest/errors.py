"""The one exception ingestion raises for input it cannot read."""

from __future__ import annotations


class IngestError(Exception):
    """Malformed input (file, encoding, CSV shape, mapping): the message names problem and place."""
