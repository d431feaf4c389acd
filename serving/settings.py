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
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/targeting@champion"
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MIN_PEPPER_CHARS = 16
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def log_level_name(value: Any) -> Any:
    """A logging level name in any case (``warning``, ``Warning``) as ``logging`` and
    uvicorn take it (upper case here; uvicorn gets it lower-cased)."""
    if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
        return value.strip().upper()
    return value


LogLevel = Annotated[Literal[LOG_LEVELS], BeforeValidator(log_level_name)]


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
    # Drift gauges in /metrics (serving.drift_monitor): recomputed this often (0: off) on
    # the latest drift_window decisions, PSI listed for the drift_top most shifted features.
    drift_interval_s: float = Field(300.0, ge=0, le=86_400)
    drift_window: int = Field(10_000, ge=100, le=1_000_000)
    drift_top: int = Field(10, ge=1, le=50)
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
    # Browser sessions for the explanation pages (serving.sessions): officers sign in at
    # /login with their key and get a signed cookie lasting this long. The cookie is signed
    # with session_secret, or when empty with a key derived from api_key_pepper (the same
    # in every worker process and across restarts).
    session_secret: SecretStr = SecretStr("")
    session_ttl_s: int = Field(8 * 3600, ge=60, le=7 * 24 * 3600)
    # Where it runs: "development" relaxes what would expose the service elsewhere
    # (today: /metrics without a key).
    environment: Literal["production", "development"] = "production"
    # /metrics shows the selection threshold and the score distribution: a key (any role,
    # in X-API-Key or as "Authorization: Bearer KEY") is required unless this is false;
    # unset, it is required outside development.
    metrics_require_key: bool | None = None
    # Server.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: LogLevel = "INFO"
    # SIGTERM (serving.drain): keep answering (Connection: close, /readyz 503) this long,
    # then stop listening and wait at most shutdown_grace_s for requests in flight.
    shutdown_drain_s: float = Field(5.0, ge=0, le=300)
    # Slow clients (serving.server): open connections at most (503 beyond), a request head
    # within header_timeout_s, its body never idle for body_timeout_s (408), idle
    # keep-alive connections closed after keep_alive_s, request heads of max_header_bytes.
    max_connections: int = Field(1_000, ge=1)
    header_timeout_s: float = Field(10.0, gt=0, le=600)
    body_timeout_s: float = Field(30.0, gt=0, le=3_600)
    keep_alive_s: int = Field(5, ge=1, le=600)
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    shutdown_grace_s: float = Field(30.0, gt=0, le=3_600)

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
    def metrics_key_required(self) -> bool:
        """Whether ``/metrics`` needs a key: as set, else outside development."""
        if self.metrics_require_key is not None:
            return self.metrics_require_key
        return self.environment != "development"

    @property
    def model_rate(self) -> float:
        """Share of declarations the model arm selects: the budget less its random share."""
        return self.inspection_rate * (1.0 - self.exploration_share)

    @property
    def random_probability(self) -> float:
        """Probability the random arm selects any declaration (AEO included)."""
        return self.inspection_rate * self.exploration_share
