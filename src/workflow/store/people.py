"""Tables for the organisation and its people: org units, users, role assignments, delegations, credentials
of access (API tokens and browser sessions)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.store.frozen import JSONDocument, UTCDateTime


def _fk(target: str, *, nullable: bool = False) -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete="CASCADE"), nullable=nullable)


class OrgUnit(SQLModel, table=True):
    """An institution, faculty or department; departments may have a shared inbox."""

    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    name: str = Field(max_length=300)
    kind: str = Field(max_length=30)  # institution, faculty, department
    parent_id: int | None = Field(default=None, sa_column=_fk("org_unit.id", nullable=True))
    email: str | None = Field(default=None, max_length=320)
    handles: list[str] = Field(default_factory=list, sa_type=JSONDocument)  # roles whose mail its inbox gets
    digest_hour: int | None = None  # None: each message at once; else one digest a day at this local hour
    timezone: str | None = Field(default=None, max_length=60)


class User(SQLModel, table=True):
    """A person who signs in."""

    __tablename__ = "app_user"
    __table_args__ = (Index("uq_app_user_oidc", "oidc_issuer", "oidc_subject", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    email: str = Field(default="", max_length=320)
    password_hash: str | None = Field(default=None, max_length=300)
    is_admin: bool = False
    active: bool = True
    digest_hour: int | None = None  # None: each message at once; else one digest a day at this local hour
    timezone: str | None = Field(default=None, max_length=60)
    calendar_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    oidc_issuer: str | None = Field(default=None, max_length=500)  # the identity provider that vouches for them
    oidc_subject: str | None = Field(default=None, max_length=255)  # their ``sub`` there (never reassigned)
    totp_secret: str | None = Field(default=None, max_length=64)  # base32; set once enrolment is confirmed
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)  # the last code's time step (no reuse)


class RoleAssignment(SQLModel, table=True):
    """A user holds a role for an org unit (and everything below it) or for one credential."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "org_unit_id", "credential_id", name="uq_role_assignment"),
        Index("ix_role_assignment_scope", "role", "org_unit_id"),
        Index("ix_role_assignment_credential", "credential_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("app_user.id"))
    role: str = Field(max_length=100)
    org_unit_id: int | None = Field(default=None, sa_column=_fk("org_unit.id", nullable=True))
    credential_id: int | None = Field(default=None, sa_column=_fk("credential.id", nullable=True))


class Delegation(SQLModel, table=True):
    """``from_user`` lets ``to_user`` decide in their place (for one role, or all) between two dates inclusive."""

    __tablename__ = "delegation"

    id: int | None = Field(default=None, primary_key=True)
    from_user_id: int = Field(sa_column=_fk("app_user.id"))
    to_user_id: int = Field(sa_column=_fk("app_user.id"))
    role: str | None = Field(default=None, max_length=100)
    starts_on: date
    ends_on: date
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("app_user.id"))
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: until revoked


class LoginSession(SQLModel, table=True):
    """A browser session; the cookie holds a random token whose SHA-256 is stored here."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("app_user.id"))
    token_hash: str = Field(max_length=64, unique=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)  # the absolute end, however active
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # idle time counts from here
    authenticated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # last password/second factor
    stage: str = Field(default="signed_in", max_length=20, sa_column_kwargs={"server_default": "signed_in"})
    method: str = Field(default="password", max_length=120, sa_column_kwargs={"server_default": "password"})


class RecoveryCode(SQLModel, table=True):
    """A one-use second-factor recovery code; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"
    __table_args__ = (Index("ix_recovery_code_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("app_user.id"))
    code_hash: str = Field(max_length=64, unique=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OidcPending(SQLModel, table=True):
    """A sign-in sent to an identity provider and not yet back: its state (hashed), nonce and PKCE verifier.
    The row is taken once when the provider sends the browser back, so a state cannot be replayed."""

    __tablename__ = "oidc_pending"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    provider: str = Field(max_length=100)
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=200)
    next_path: str = Field(max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)


class SignInEvent(SQLModel, table=True):
    """One line of the sign-in log: a sign-in, a failure, a second-factor use, a sign-out, an API token use."""

    __tablename__ = "sign_in_event"
    __table_args__ = (
        Index("ix_sign_in_event_user", "user_id", "at"),
        Index("ix_sign_in_event_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, sa_column=_fk("app_user.id", nullable=True))
    username: str = Field(max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=30)
    method: str = Field(max_length=120)
    address: str = Field(max_length=200)
    user_agent: str = Field(max_length=300)
    detail: str = Field(max_length=300)


class AccountLink(SQLModel, table=True):
    """A one-time link that lets a person set their password: an invitation to a new account, or a reset. The
    e-mail holds a random token; only its SHA-256 is stored. Used once, and only before ``expires_at``."""

    __tablename__ = "account_link"
    __table_args__ = (Index("ix_account_link_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_fk("app_user.id"))
    purpose: str = Field(max_length=20)  # invitation, reset
    token_hash: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, kept by the username tried and by the client's address: recent ones throttle sign-ins."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_key", "scope", "key", "at"),
        Index("ix_login_failure_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=10)  # username, address
    key: str = Field(max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)


# The tables, for the statements written with SQLAlchemy Core.
ORG_UNIT = OrgUnit.__table__  # type: ignore[attr-defined]
USER = User.__table__  # type: ignore[attr-defined]
ASSIGNMENT = RoleAssignment.__table__  # type: ignore[attr-defined]
DELEGATION = Delegation.__table__  # type: ignore[attr-defined]
ACCOUNT_LINK = AccountLink.__table__  # type: ignore[attr-defined]
