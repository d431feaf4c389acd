"""The decision log's retention schedule: archive old decisions, in a thread, on a timer.

Every ``archive_interval_s`` seconds (the first time a minute after start-up), the
decisions older than ``archive_after_days`` move to the Parquet archive
(``DecisionLog.archive``, whole UTC days only: the cut-off is a midnight) and leave
SQLite. Every worker process runs the schedule; a lock file makes one run at a time,
and a run that follows another finds nothing left to move.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from serving.decision_log import ArchiveReport, DecisionLog
from serving.metrics import Metrics
from serving.settings import ServingSettings

logger = logging.getLogger("serving.retention")
FIRST_RUN_S = 60.0


def cutoff(now: datetime, days: float) -> datetime:
    """The midnight (UTC) at or before ``now - days``: decisions before it are archived."""
    edge = (now - timedelta(days=days)).astimezone(UTC)
    return edge.replace(hour=0, minute=0, second=0, microsecond=0)


def archive_once(log: DecisionLog, settings: ServingSettings, now: datetime) -> ArchiveReport:
    """One archiving run (blocking I/O: call it in a thread)."""
    report = log.archive(settings.archive_dir, cutoff(now, settings.archive_after_days))
    if report.decisions:
        logger.info(
            "archived %d decisions in %d parts under %s in %.1f s",
            report.decisions,
            len(report.parts),
            settings.archive_dir,
            report.seconds,
        )
    return report


async def retain(log: DecisionLog, settings: ServingSettings, metrics: Metrics) -> None:
    """Archive on schedule until cancelled; a failed run is logged and retried later."""
    wait = min(FIRST_RUN_S, settings.archive_interval_s)
    while True:
        await asyncio.sleep(wait)
        wait = settings.archive_interval_s
        try:
            report = await asyncio.to_thread(archive_once, log, settings, datetime.now(UTC))
            metrics.archived.inc(report.decisions)
        except Exception as exc:  # disk full, I/O: nothing was pruned that is not archived
            logger.error("archiving the decision log failed: %s", exc)
