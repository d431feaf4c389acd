"""One typed settings object for the command line, overridable by environment variables.

Each variable is the field name in upper case with the ``TARGETING_`` prefix, e.g.
``TARGETING_DATA_DIR=/srv/targeting/data``. Library code never reads the environment:
the CLI builds these settings once and passes typed values down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from serving.settings import LogLevel


class TargetingSettings(BaseSettings):
    """Paths and defaults shared by the sub-commands."""

    model_config = SettingsConfigDict(env_prefix="TARGETING_", extra="ignore")

    data_dir: Path = Path("data")
    world_dir: Path = Path("data/world")
    mlruns_dir: Path = Path("mlruns")
    # Live feature states of ``targeting score`` (one per model bundle; see features.live).
    live_state_dir: Path = Path("data/live-state")
    log_level: LogLevel = "INFO"  # any case: warning, WARNING
