"""What an ingest run did: counts per source table, written files, a printable summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from canonical.ingest.failures import RejectLog
from canonical.ingest.reasons import REASONS


@dataclass(frozen=True)
class TableReport:
    """Counts for one source table: rows read, accepted, rejected (by first reason), written."""

    source: str
    read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    field_failures: int
    written: dict[str, int]

    @classmethod
    def from_log(cls, source: str, log: RejectLog, written: dict[str, int]) -> TableReport:
        """Report of a source table from its reject log and the row counts written."""
        rejected = int(log.rejected.sum())
        return cls(
            source=source,
            read=log.num_rows,
            accepted=log.num_rows - rejected,
            rejected=rejected,
            rejected_by_reason=log.rejected_by_reason(),
            field_failures=log.field_failures,
            written=written,
        )

    @property
    def reasons_text(self) -> str:
        """`` (reason count, ...)`` of the rejected rows; empty when none was rejected."""
        if not self.rejected_by_reason:
            return ""
        return f" ({', '.join(f'{k} {v:,}' for k, v in self.rejected_by_reason.items())})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "field_failures": self.field_failures,
            "written": dict(self.written),
        }


@dataclass(frozen=True)
class IngestSummary:
    """Result of ``ingest_files``: one report per source table and the files written."""

    out: Path
    tables: dict[str, TableReport]
    files: tuple[Path, ...] = field(default=())

    @property
    def field_failures(self) -> int:
        """Total reject lines written to rejects.csv."""
        return sum(t.field_failures for t in self.tables.values())

    @property
    def rejected(self) -> int:
        """Total rejected rows over all source tables."""
        return sum(t.rejected for t in self.tables.values())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the content of ingest_summary.json)."""
        return {
            "tables": {name: report.to_dict() for name, report in self.tables.items()},
            "field_failures": self.field_failures,
            "reasons": list(REASONS),
            "files": [p.name for p in self.files],
        }

    def write_json(self, path: Path) -> Path:
        """Write the summary as JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def render(self) -> str:
        """A short human summary, one line per source table."""
        lines = [f"Ingested into {self.out}"]
        width = max((len(name) for name in self.tables), default=0)
        for name, t in self.tables.items():
            line = (
                f"  {name:<{width}}  read {t.read:,}  accepted {t.accepted:,}"
                f"  rejected {t.rejected:,}{t.reasons_text}"
            )
            written = ", ".join(f"{table} {n:,}" for table, n in t.written.items())
            lines.append(f"{line}  -> {written}")
        lines.append(f"  {self.field_failures:,} field failure(s) in rejects.csv")
        return "\n".join(lines)
