"""What the command line prints of its libraries' logging: their INFO lines only on ``--verbose``.

MLflow configures its own loggers when it is imported (``mlflow`` and ``alembic`` at INFO,
with a handler of its own), so levels set before that import are overwritten. Its own level
comes from ``MLFLOW_LOGGING_LEVEL``; alembic's migration lines are dropped by a filter on
the loggers that emit them, which MLflow's configuration keeps. Nothing is imported here.
"""

from __future__ import annotations

import logging
import os

# The loggers through which alembic (run by MLflow on its SQLite store) writes INFO lines.
ALEMBIC_LOGGERS = (
    "alembic",
    "alembic.config",
    "alembic.runtime.migration",
    "alembic.runtime.plugins",
    "alembic.ddl.impl",
    "alembic.util.messaging",
    "alembic.ext.checkconstraint_byname",
)
NOISY = ("alembic", "mlflow", "urllib3")


class WarningsOnly(logging.Filter):
    """Lets through records of level WARNING and above."""

    def filter(self, record: logging.LogRecord) -> bool:
        """True for WARNING, ERROR and CRITICAL records."""
        return record.levelno >= logging.WARNING


def configure(level: str, verbose: bool) -> None:
    """Root logging at ``level``; MLflow's and alembic's INFO lines hidden unless ``verbose``."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose:
        return
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ALEMBIC_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WarningsOnly) for f in logger.filters):
            logger.addFilter(WarningsOnly())
