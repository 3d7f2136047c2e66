"""One settings object for the whole application, read from the environment (and `.env`)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "changethis", "secret"}
DEFAULT_CURRENCY = "USD"


class GraphApi(NamedTuple):
    """Where the WhatsApp Cloud API answers: Meta's Graph API, or the sandbox on loopback."""

    base_url: str = "https://graph.facebook.com"
    version: str = "23.0"


class Settings(BaseSettings):
    """Every environment variable the CRM reads, with its default (see README)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = Field(
        "development", validation_alias="WACRM_ENV"
    )
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    database_direct_url: str | None = Field(
        None, validation_alias="DATABASE_DIRECT_URL"
    )  # a session connection (LISTEN, migrations) when DATABASE_URL goes through PgBouncer
    database_read_url: str | None = Field(
        None, validation_alias="DATABASE_READ_URL"
    )  # a streaming replica for dashboard, exports and the admin journal view
    db_pooler: Literal["none", "transaction"] | None = Field(
        None, validation_alias="WACRM_DB_POOLER"
    )  # "transaction": DATABASE_URL is a PgBouncer in transaction mode (default when a direct URL is set)
    read_max_lag_seconds: float = Field(
        5.0, ge=0, le=3600, validation_alias="WACRM_READ_MAX_LAG_SECONDS"
    )  # a replica further behind than this is not used (reads go to the primary)
    data_dir: Path = Field(Path(".wacrm"), validation_alias="WACRM_DATA_DIR")
    secret_key: str = Field("", validation_alias="WACRM_SECRET_KEY")
    public_url: str = Field("http://127.0.0.1:8000", validation_alias="WACRM_PUBLIC_URL")
    host: str = Field("127.0.0.1", validation_alias="WACRM_HOST")
    port: int = Field(8000, validation_alias="WACRM_PORT")
    forwarded_allow_ips: str = Field(
        "127.0.0.1", validation_alias="WACRM_FORWARDED_ALLOW_IPS"
    )  # proxies whose X-Forwarded-For/-Proto are trusted: comma-separated IPs/networks, or "*"
    log_level: str = Field("INFO", validation_alias="WACRM_LOG_LEVEL")
    log_format: Literal["json", "text"] = Field("text", validation_alias="WACRM_LOG_FORMAT")
    db_pool_size: int = Field(16, ge=1, le=200, validation_alias="WACRM_DB_POOL_SIZE")
    # a pooled connection whose server process holds more (caches of the agents' tables it has
    # touched) is replaced; 0: never (docs/performance.md, "PostgreSQL memory with 1,000 agents")
    db_backend_memory_mib: int = Field(48, ge=0, validation_alias="WACRM_DB_BACKEND_MEMORY_MIB")
    max_body_bytes: int = Field(
        3 * 1024 * 1024, ge=1024, validation_alias=AliasChoices("WACRM_MAX_BODY_BYTES")
    )
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, ge=1024, validation_alias="WACRM_MAX_UPLOAD_BYTES"
    )
    default_currency: str = Field(
        DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$", validation_alias="WACRM_DEFAULT_CURRENCY"
    )
    run_worker: bool = Field(True, validation_alias="WACRM_RUN_WORKER")
    send_lease_seconds: int = Field(
        90, ge=1, le=3600, validation_alias="WACRM_SEND_LEASE_SECONDS"
    )  # a send held by a worker that vanished is taken over after this (and the heartbeat timeout)
    webhook_batch_max: int = Field(
        64, ge=0, le=1000, validation_alias="WACRM_WEBHOOK_BATCH_MAX"
    )  # webhooks per group-commit transaction; 0: one transaction per webhook
    webhook_processing: Literal["deferred", "inline"] = Field(
        "deferred", validation_alias="WACRM_WEBHOOK_PROCESSING"
    )  # deferred: the 200 follows the journal commit, workers process it; inline: before the 200
    journal_processors: int = Field(
        2, ge=1, le=16, validation_alias="WACRM_JOURNAL_PROCESSORS"
    )  # journal processors per worker process, side by side, each on its share of the numbers
    journal_retention_days: int = Field(
        30, ge=0, le=36500, validation_alias="WACRM_JOURNAL_RETENTION_DAYS"
    )  # processed webhooks leave the journal after this many days (their messages keep `raw`); 0: never
    metrics_token: str | None = Field(
        None, validation_alias="WACRM_METRICS_TOKEN"
    )  # /metrics needs `Authorization: Bearer <this>`; unset: readable from loopback only
    admin_email: str | None = Field(None, validation_alias="WACRM_ADMIN_EMAIL")
    admin_password: str | None = Field(None, validation_alias="WACRM_ADMIN_PASSWORD")

    whatsapp_api_base_url: str = Field(
        GraphApi().base_url, validation_alias="WHATSAPP_API_BASE_URL"
    )
    whatsapp_api_version: str = Field(GraphApi().version, validation_alias="WHATSAPP_API_VERSION")
    whatsapp_verify_token: str | None = Field(None, validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_app_secret: str | None = Field(None, validation_alias="WHATSAPP_APP_SECRET")

    @field_validator("public_url", "whatsapp_api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                "WACRM_SECRET_KEY is empty or a placeholder; set a long random value in production"
            )
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("WACRM_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def pooled(self) -> bool:
        """DATABASE_URL goes through a transaction-mode pooler: no server-side prepared statements."""
        if self.db_pooler is not None:
            return self.db_pooler == "transaction"
        return bool(self.database_direct_url)

    def session_url(self, url: str) -> str:
        """The URL for connections that need a session of their own (LISTEN, session locks)."""
        return self.database_direct_url or url

    @property
    def webhook_url(self) -> str:
        return f"{self.public_url}/webhooks/whatsapp"

    @property
    def graph_api(self) -> GraphApi:
        return GraphApi(self.whatsapp_api_base_url, self.whatsapp_api_version)

    @property
    def private_addresses_allowed(self) -> bool:
        """Outgoing webhooks may go to this machine or a private network (not in production)."""
        return self.env != "production"

    @property
    def cookie_secure(self) -> bool:
        return self.public_url.startswith("https://")

    def effective_secret_key(self) -> str:
        """The secret key; in development a random one is created once in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
