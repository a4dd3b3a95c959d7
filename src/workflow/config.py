"""Settings, read from the environment (``WORKFLOW_*``) once and passed to whatever needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflow.clock import LocalDays


class Settings(BaseSettings):
    """How this installation runs. Every field can be set as ``WORKFLOW_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="WORKFLOW_", frozen=True, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str | None = None
    definitions_dir: Path = Path("definitions")
    sqlite_busy_timeout_seconds: float = 30.0
    pool_size: int = Field(default=5, ge=1)  # connections kept per process; up to twice as many more on demand
    workers: int | None = Field(default=None, ge=1)  # `workflow serve` processes; see default_workers
    shutdown_seconds: int = Field(default=30, ge=1)  # how long a stopping server lets requests finish
    max_body_bytes: int = Field(default=1_048_576, ge=1024)  # larger request bodies are answered 413
    evidence_max_bytes: int = Field(default=25 * 1_048_576, ge=1024)  # larger evidence files are refused (413)
    documents_dir: Path | None = None  # where evidence files are kept; default: <data_dir>/documents
    session_hours: float = 12.0
    cookie_secure: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    notifications_dir: Path = Path("notifications")
    timezone: str = "America/Toronto"  # the institution's: its calendar days are what date-only values mean
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Micro-credential workflow <workflow@localhost>"
    mail_domain: str = "workflow.localhost"
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 30.0  # the first wait after a refusal or an unanswered connection; it doubles
    outbox_unreachable_max_backoff_seconds: float = Field(default=900.0, gt=0)  # longest wait between probes
    mail_alert_minutes: float = Field(default=10.0, ge=0)  # administrators are told after mail fails this long
    scheduler_in_app: bool = True
    timer_poll_seconds: float = 30.0
    timer_lease_seconds: float = 120.0
    graphviz_dot: str = "dot"  # Graphviz's layout command (a name on PATH or a path) that draws the lifecycles

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            LocalDays(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"WORKFLOW_TIMEZONE: unknown time zone '{value}' (use a name like America/Toronto)") \
                from None
        return value

    @property
    def days(self) -> LocalDays:
        """The institution's calendar days, in ``timezone``."""
        return LocalDays(self.timezone)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment == "production":
            if not self.cookie_secure:
                raise ValueError("WORKFLOW_COOKIE_SECURE must stay true in production (cookies over HTTPS only)")
            if not self.database_url:
                raise ValueError("set WORKFLOW_DATABASE_URL in production; the SQLite default is for trying it out")
        return self

    @property
    def documents_path(self) -> Path:
        """Where evidence files are kept (never under anything served)."""
        return self.documents_dir or self.data_dir / "documents"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (one host, one writer at a time)."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def connections_per_process(self) -> int:
        """The most database connections one process opens: the pool kept, and its overflow of twice as many."""
        return 3 * self.pool_size

    def default_workers(self, cpus: int | None) -> int:
        """``workflow serve`` processes when neither ``--workers`` nor ``WORKFLOW_WORKERS`` says: one on SQLite
        (writes take turns anyway), one per CPU on PostgreSQL."""
        return 1 if self.is_sqlite else max(1, cpus or 1)

    @property
    def effective_database_url(self) -> str:
        """The database to use: ``database_url`` if set, otherwise a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'workflow.db').as_posix()}"
