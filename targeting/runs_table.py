"""``targeting runs`` output: a plain table that fits the terminal (80 columns when piped),
or CSV / JSON for other tools. Pure formatting: the rows come from ``training.tracking``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

FORMATS = ("table", "csv", "json")
FIELDS = (
    "run_id",
    "started",
    "version",
    "aliases",
    "precision_at_5",
    "recall_at_5",
    "revenue_at_5",
    "pr_auc",
    "window",
)
HEADERS = ("run", "started", "ver", "aliases", "P@5", "R@5", "rev@5", "PR-AUC", "window")
METRICS = ("precision_at_5", "recall_at_5", "revenue_at_5", "pr_auc")
GAP = "  "


def _started(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _cells(run: dict[str, Any]) -> list[str]:
    """One run's table cells (metrics to 3 decimals, blank when absent)."""
    values = {
        **run,
        "started": _started(run["started"]),
        **{k: "" if run[k] is None else f"{run[k]:.3f}" for k in METRICS},
    }
    return [str(values[k]) for k in FIELDS]


def table(runs: Sequence[dict[str, Any]], width: int) -> str:
    """Aligned columns; the window goes to its own indented line when a row would not fit
    ``width`` with it (so piped output stays within 80 columns)."""
    rows = [_cells(r) for r in runs]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: Sequence[str]) -> str:
        return GAP.join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    one_line = sum(widths) + len(GAP) * (len(widths) - 1) <= width
    lines = [line(HEADERS if one_line else HEADERS[:-1])]
    for cells in rows:
        if one_line:
            lines.append(line(cells))
        else:
            lines.append(line(cells[:-1]))
            if cells[-1]:
                lines.append(f"{' ' * (widths[0] + len(GAP))}window {cells[-1]}")
    return "\n".join(lines)


def as_csv(runs: Sequence[dict[str, Any]]) -> str:
    """Every field, one run per line; ``started`` as ISO 8601 UTC."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        writer.writerow({**run, "started": _iso(run["started"])})
    return buffer.getvalue().rstrip("\n")


def as_json(runs: Sequence[dict[str, Any]]) -> str:
    """A JSON array of the runs; metrics as numbers (null when absent)."""
    return json.dumps([{**r, "started": _iso(r["started"])} for r in runs], indent=1)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")
