"""Settings, read from the environment (``WORKFLOW_*``) once and passed to whatever needs them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workflow.clock import LocalDays


class GroupRole(BaseModel):
    """One line of a provider's role table: a claim value that gives a role for an org unit (and below)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(min_length=1)  # e.g. "grp-deans-business"
    role: str = Field(min_length=1)  # a role key of the definitions, e.g. "dean"
    unit: str = Field(min_length=1)  # an org unit key, e.g. "business"
    claim: str | None = None  # the claim holding the value; the provider's groups_claim when not given


class OidcProvider(BaseModel):
    """An institution's OpenID Connect identity provider (Entra ID, Okta, Google, Keycloak, Shibboleth...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # in the redirect URI: /login/oidc/<key>/callback
    display_name: str = Field(min_length=1, max_length=100)  # "Sign in with <display_name>"
    issuer: str = Field(min_length=1)  # must equal the ID token's `iss`
    client_id: str = Field(min_length=1)
    client_secret: str = ""
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration
    create_accounts: bool = False  # a first sign-in with no matching account creates one
    match_email: bool = True  # an account without a subject yet is matched by a verified email
    groups_claim: str = "groups"
    roles: tuple[GroupRole, ...] = ()

    @property
    def metadata_url(self) -> str:
        """Where the provider's configuration is read from."""
        return self.discovery_url or f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


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
    session_hours: float = Field(default=12.0, gt=0)  # a session's absolute lifetime, however active
    session_idle_minutes: float = Field(default=30.0, gt=0)  # a session unused this long ends
    reauthenticate_minutes: float = Field(default=10.0, gt=0)  # sensitive changes ask the password again after
    local_passwords: bool = True  # false: only the identity providers below sign people in
    second_factor_required: Literal["administrators", "everyone", "nobody"] = "administrators"
    sign_in_log_days: int = Field(default=180, ge=1)
    oidc_providers: tuple[OidcProvider, ...] = ()  # JSON list in WORKFLOW_OIDC_PROVIDERS
    oidc_providers_file: Path | None = None  # or the same JSON list in a file (keeps secrets out of the env)
    account_link_hours: float = Field(default=72.0, gt=0, le=24 * 30)  # how long an invitation or reset link works
    evidence_max_bytes: int = Field(default=25 * 1_048_576, ge=1024)  # larger evidence files are refused (413)
    documents_dir: Path | None = None  # where evidence files are kept; default: <data_dir>/documents
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
    # The intakes (terms) a credential can be planned to launch for, as JSON: {"Fall 2027": "2027-09-07", ...}
    terms: dict[str, date] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            LocalDays(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"WORKFLOW_TIMEZONE: unknown time zone '{value}' (use a name like America/Toronto)") \
                from None
        return value

    @model_validator(mode="after")
    def _providers_from_file(self) -> Settings:
        if self.oidc_providers_file is not None and not self.oidc_providers:
            try:
                listed = json.loads(self.oidc_providers_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as problem:
                raise ValueError(f"WORKFLOW_OIDC_PROVIDERS_FILE {self.oidc_providers_file}: {problem}") from None
            object.__setattr__(self, "oidc_providers", tuple(OidcProvider.model_validate(p) for p in listed))
        keys = [p.key for p in self.oidc_providers]
        if len(set(keys)) != len(keys):
            raise ValueError("WORKFLOW_OIDC_PROVIDERS: each provider needs a key of its own")
        if not self.local_passwords and not self.oidc_providers:
            raise ValueError("WORKFLOW_LOCAL_PASSWORDS=false needs at least one provider in WORKFLOW_OIDC_PROVIDERS")
        return self

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
