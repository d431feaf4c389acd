"""``ServingSettings``: the one configuration object of the API, built at the edge.

Every field can be set by an environment variable with the ``TARGETING_`` prefix
(``TARGETING_INSPECTION_RATE=0.05``); dict fields take JSON
(``TARGETING_API_KEY_HASHES='{"<hex digest>": "admin"}'``). Library code receives the
typed object; nothing below the CLI or the app factory reads the environment.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/targeting@champion"
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MIN_PEPPER_CHARS = 16


class Role(StrEnum):
    """What an API key may do; ``admin`` implies the others."""

    RISK_ENGINE = "risk-engine"
    ANALYST = "analyst"
    ADMIN = "admin"


class ServingSettings(BaseSettings):
    """Model source, execution, selection policy, batching, storage and API keys."""

    model_config = SettingsConfigDict(env_prefix="TARGETING_", extra="ignore")

    # Model: a bundle directory or a registry URI (models:/NAME@ALIAS, models:/NAME/VERSION).
    model_uri: str = DEFAULT_MODEL_URI
    data_dir: Path = Path("data")
    mlruns_dir: Path = Path("mlruns")
    model_cache_dir: Path = Field(description="default: DATA_DIR/serving/models")
    poll_alias_seconds: float = Field(0.0, ge=0, description="0: no polling of the alias")
    # Execution.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    require_gpu: bool = False
    onnx_threads: int | None = Field(None, ge=1)
    batch_max_rows: int = Field(64, ge=1, le=100_000)
    # 0: no lingering; a batch is whatever queued while the previous one ran (no added
    # latency when idle, natural batching under load). >0 waits that long for company.
    batch_max_wait_ms: float = Field(0.0, ge=0, le=1_000)
    # Micro-batches of at most this many rows run on the event loop, larger ones in a
    # thread (0: always in a thread). Measured: inline is faster for small batches.
    batch_inline_rows: int = Field(64, ge=0, le=100_000)
    # Rows scored when a model loads, before it serves: builds the lookup tables that
    # would otherwise stall the first large request (0: no warm-up). See serving.warmup.
    warmup_rows: int = Field(512, ge=0, le=10_000)
    max_batch_declarations: int = Field(10_000, ge=1, le=10_000)
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    reasons: bool = True
    reasons_k: int = Field(3, ge=1, le=10)
    # Selection policy: inspection budget, its random share, rolling threshold window.
    inspection_rate: float = Field(0.05, gt=0, lt=1)
    exploration_share: float = Field(0.1, ge=0, le=1)
    selection_window: int = Field(10_000, ge=10)
    selection_warmup: int = Field(1_000, ge=1)
    selection_seed: int | None = None
    # Key of the random arm's draws (hash of the declaration id): keep it secret, or
    # traders could choose ids the arm never draws. Empty: a key made at start-up (draws
    # then change on restart), or one from selection_seed when that is set (tests).
    exploration_key: SecretStr = SecretStr("")
    # Live feature state (serving.folding): every decision's declaration and every control
    # result are folded into the model's feature state at most this often (0: never; the
    # model then scores from its training-end state), checkpointed under live_state_dir.
    fold_interval_s: float = Field(5.0, ge=0, le=3_600)
    checkpoint_interval_s: float = Field(600.0, ge=1)
    live_state_dir: Path = Field(description="default: DATA_DIR/serving/live-state")
    # Storage: decision log and control results (SQLite, WAL, synchronous=FULL).
    decision_db: Path = Field(description="default: DATA_DIR/serving/decisions.sqlite")
    # Retention: decisions older than archive_after_days move to Parquet by day under
    # archive_dir and leave SQLite (serving.archive), checked every archive_interval_s
    # (0 days: keep everything in SQLite).
    archive_after_days: float = Field(90.0, ge=0)
    archive_dir: Path = Field(description="default: DATA_DIR/serving/archive")
    archive_interval_s: float = Field(3_600.0, ge=1)
    # Worker processes (``targeting serve``; default: the machine's cores). They share
    # the decision log; every selection_sync_s each feeds its selection window the scores
    # the others logged (0: never), and every reload_poll_s it looks for a reload another
    # one published (serving.workers).
    workers: int | None = Field(None, ge=1, le=64)
    selection_sync_s: float = Field(1.0, ge=0, le=3_600)
    reload_poll_s: float = Field(1.0, gt=0, le=3_600)
    # API keys: HMAC-SHA256(pepper, key) hex digests -> role. ``api_keys`` (plain key ->
    # role) is for development: the keys are hashed at start-up and never kept.
    api_key_pepper: SecretStr = SecretStr("")
    api_key_hashes: dict[str, Role] = Field(default_factory=dict, repr=False)
    api_keys: dict[str, Role] = Field(default_factory=dict, repr=False)
    # Server.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: str = "INFO"

    @field_validator("api_key_hashes")
    @classmethod
    def _hex_digests(cls, value: dict[str, Role]) -> dict[str, Role]:
        bad = [k for k in value if not _HEX_DIGEST.match(k)]
        if bad:
            raise ValueError(f"{len(bad)} key hash(es) are not 64 lower-case hex digits")
        return value

    @model_validator(mode="before")
    @classmethod
    def _under_data_dir(cls, values: Any) -> Any:
        """Paths not given default to places under ``data_dir``."""
        if isinstance(values, dict):
            data = Path(values.get("data_dir") or "data")
            values.setdefault("model_cache_dir", data / "serving" / "models")
            values.setdefault("decision_db", data / "serving" / "decisions.sqlite")
            values.setdefault("live_state_dir", data / "serving" / "live-state")
            values.setdefault("archive_dir", data / "serving" / "archive")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.selection_warmup > self.selection_window:
            raise ValueError("selection_warmup must not exceed selection_window")
        if self.require_gpu and self.device == "cpu":
            raise ValueError("require_gpu contradicts device='cpu'")
        keys = self.api_key_hashes or self.api_keys
        if keys and len(self.api_key_pepper.get_secret_value()) < MIN_PEPPER_CHARS:
            raise ValueError(
                f"api_key_pepper must have at least {MIN_PEPPER_CHARS} characters"
                " when API keys are configured (TARGETING_API_KEY_PEPPER)"
            )
        return self

    @property
    def model_rate(self) -> float:
        """Share of declarations the model arm selects: the budget less its random share."""
        return self.inspection_rate * (1.0 - self.exploration_share)

    @property
    def random_probability(self) -> float:
        """Probability the random arm selects any declaration (AEO included)."""
        return self.inspection_rate * self.exploration_share
