"""Authentication: passwords (Argon2id), browser sessions with a CSRF token, and personal API tokens.

Only hashes are stored: Argon2 for passwords, SHA-256 for the random session and API tokens (which carry
256 bits of randomness, so a fast hash is the right one).

Password guessing is throttled in the database (so every server process sees the same count): after
``USERNAME_LIMIT`` failures for one username within ``WINDOW``, that username is refused for ``COOLING`` after
the last of them, without its password being checked; one client address has a higher limit, across usernames.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select, update

from workflow.clock import Clock
from workflow.engine.data import check_plain_text
from workflow.errors import InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from workflow.store.database import Database
from workflow.store.people import ApiToken, LoginFailure, LoginSession, User

USER = User.__table__  # type: ignore[attr-defined]
TOKEN = ApiToken.__table__  # type: ignore[attr-defined]
SESSION = LoginSession.__table__  # type: ignore[attr-defined]
FAILURE = LoginFailure.__table__  # type: ignore[attr-defined]

TOKEN_PREFIX = "mcw_"
MIN_PASSWORD = 10
MAX_TOKEN_DAYS = 730
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password, used to keep timing even")
USERNAME_LIMIT = 5
ADDRESS_LIMIT = 50
WINDOW = timedelta(minutes=15)
COOLING = timedelta(minutes=15)


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (refusing passwords too short to be worth hashing)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > 1000:
        raise InvalidInput("password", "is too long (at most 1000 characters)")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches a stored Argon2 hash (never for an account without a password)."""
    try:
        return stored is not None and _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """The SHA-256 of a session or API token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in browser session."""

    user_id: int
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class NewToken:
    """A freshly created API token; ``token`` is shown once and never stored."""

    id: int
    name: str
    token: str
    prefix: str


class AuthService:
    """Checks passwords and tokens, opens and closes browser sessions."""

    def __init__(self, database: Database, clock: Clock, *, session_hours: float = 12.0,
                 address_limit: int = ADDRESS_LIMIT) -> None:
        self._db = database
        self._clock = clock
        self._session_length = timedelta(hours=session_hours)
        self._limits = {"username": USERNAME_LIMIT, "address": address_limit}

    def authenticate(self, username: str, password: str, *, address: str | None = None) -> int:
        """The user id for a correct username and password, tried from client ``address`` (if known).

        Raises:
            TooManyAttempts: while the username or the address is cooling down (the password is not checked).
            NotAuthenticated: for a wrong username or password, or an inactive account (the same message for all,
                so that nobody learns which usernames exist).
        """
        try:
            check_plain_text("username", username)
        except InvalidInput:
            raise NotAuthenticated("wrong username or password") from None  # no account has such a name
        keys = [("username", username)] + ([("address", address[:200])] if address else [])
        now = self._clock.now()
        with self._db.begin_read() as conn:
            wait = max(_cooling(conn, scope, key, self._limits[scope], now) for scope, key in keys)
            if wait > 0:
                raise TooManyAttempts(wait)
            user = conn.execute(select(USER.c.id, USER.c.password_hash, USER.c.active)
                                .where(USER.c.username == username)).first()
            failed_before = conn.execute(select(FAILURE.c.id).where(FAILURE.c.scope == "username",
                                                                    FAILURE.c.key == username).limit(1)).first()
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
            ok = user is not None and user.active and stored is not _DUMMY_HASH
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            with self._db.begin() as conn:
                conn.execute(FAILURE.insert(), [{"scope": scope, "key": key, "at": now} for scope, key in keys])
                conn.execute(delete(FAILURE).where(FAILURE.c.at < now - max(WINDOW, COOLING)))
            raise NotAuthenticated("wrong username or password")
        if failed_before is not None or _hasher.check_needs_rehash(stored):
            with self._db.begin() as conn:
                # A correct password starts the username's count afresh (the address keeps its count).
                conn.execute(delete(FAILURE).where(FAILURE.c.scope == "username", FAILURE.c.key == username))
                if _hasher.check_needs_rehash(stored):
                    conn.execute(update(USER).where(USER.c.id == user.id)
                                 .values(password_hash=_hasher.hash(password)))
        return int(user.id)

    def start_session(self, user_id: int) -> tuple[str, SessionInfo]:
        """Open a browser session; returns the cookie value (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        info = SessionInfo(user_id, secrets.token_urlsafe(32), now + self._session_length)
        with self._db.begin() as conn:
            conn.execute(SESSION.insert(), {"user_id": user_id, "token_hash": token_hash(token),
                                            "csrf_token": info.csrf_token, "created_at": now,
                                            "expires_at": info.expires_at})
        return token, info

    def session(self, token: str) -> SessionInfo | None:
        """The session a cookie value opens, if it is current and its user active."""
        with self._db.begin_read() as conn:
            row = conn.execute(
                select(SESSION.c.user_id, SESSION.c.csrf_token, SESSION.c.expires_at)
                .join(USER, USER.c.id == SESSION.c.user_id)
                .where(SESSION.c.token_hash == token_hash(token), USER.c.active.is_(True))).first()
        if row is None or row.expires_at <= self._clock.now():
            return None
        return SessionInfo(row.user_id, row.csrf_token, row.expires_at)

    def end_session(self, token: str) -> None:
        """Sign out: the cookie value no longer opens anything."""
        with self._db.begin() as conn:
            conn.execute(SESSION.delete().where(SESSION.c.token_hash == token_hash(token)))

    @staticmethod
    def csrf_matches(expected: str, given: str | None) -> bool:
        """Constant-time comparison of a CSRF token."""
        return given is not None and hmac.compare_digest(expected.encode(), given.encode())

    def new_calendar_token(self, user_id: int) -> str:
        """A new private calendar-feed token for ``user_id`` (the previous one stops working)."""
        token = secrets.token_urlsafe(32)
        with self._db.begin() as conn:
            if conn.execute(update(USER).where(USER.c.id == user_id)
                            .values(calendar_token_hash=token_hash(token))).rowcount != 1:
                raise NotFound("user", user_id)
        return token

    def calendar_user(self, token: str) -> int | None:
        """Whose calendar feed a token opens (an active user's only)."""
        with self._db.begin_read() as conn:
            found = conn.execute(select(USER.c.id).where(USER.c.calendar_token_hash == token_hash(token),
                                                         USER.c.active.is_(True))).scalar()
        return int(found) if found is not None else None

    def create_token(self, user_id: int, name: str, *, days: int | None = None) -> NewToken:
        """A new personal API token for ``user_id``; it works for ``days`` days (None: until revoked)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("name", "give the token a name of 1 to 100 characters")
        check_plain_text("name", name)
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput("days", f"a token lasts from 1 to {MAX_TOKEN_DAYS} days")
        expires = self._clock.now() + timedelta(days=days) if days is not None else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.begin() as conn:
            if conn.execute(select(USER.c.id).where(USER.c.id == user_id)).first() is None:
                raise NotFound("user", user_id)
            result = conn.execute(TOKEN.insert(), {"user_id": user_id, "name": name, "token_hash": token_hash(token),
                                                   "prefix": token[:12], "created_at": self._clock.now(),
                                                   "expires_at": expires})
            key = result.inserted_primary_key
            assert key is not None
            return NewToken(int(key[0]), name, token, token[:12])

    def token_user(self, token: str) -> int | None:
        """The user an API token belongs to, if it is valid and not revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self._db.begin_read() as conn:
            row = conn.execute(select(TOKEN.c.id, TOKEN.c.user_id, TOKEN.c.last_used_at, TOKEN.c.expires_at)
                               .join(USER, USER.c.id == TOKEN.c.user_id)
                               .where(TOKEN.c.token_hash == token_hash(token), TOKEN.c.revoked_at.is_(None),
                                      USER.c.active.is_(True))).first()
        now = self._clock.now()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            with self._db.begin() as conn:
                conn.execute(update(TOKEN).where(TOKEN.c.id == row.id).values(last_used_at=now))
        return int(row.user_id)

    def list_tokens(self, user_id: int) -> list[dict[str, object]]:
        """A user's tokens (never the token itself)."""
        with self._db.begin_read() as conn:
            rows = conn.execute(select(TOKEN.c.id, TOKEN.c.name, TOKEN.c.prefix, TOKEN.c.created_at,
                                       TOKEN.c.last_used_at, TOKEN.c.revoked_at, TOKEN.c.expires_at)
                                .where(TOKEN.c.user_id == user_id).order_by(TOKEN.c.id))
            return [dict(row._mapping) for row in rows]

    def revoke_token(self, user_id: int, token_id: int) -> None:
        """Revoke one of ``user_id``'s tokens."""
        with self._db.begin() as conn:
            result = conn.execute(update(TOKEN).where(TOKEN.c.id == token_id, TOKEN.c.user_id == user_id,
                                                      TOKEN.c.revoked_at.is_(None))
                                  .values(revoked_at=self._clock.now()))
            if result.rowcount != 1:
                raise NotFound("token", token_id)


def _cooling(conn: Connection, scope: str, key: str, limit: int, now: datetime) -> int:
    """Seconds ``key`` must still wait: its last ``limit`` failures came within ``WINDOW``, the last of them less
    than ``COOLING`` ago. Zero when it may try."""
    recent: list[datetime] = list(conn.execute(
        select(FAILURE.c.at).where(FAILURE.c.scope == scope, FAILURE.c.key == key,
                                   FAILURE.c.at > now - COOLING - WINDOW)
        .order_by(FAILURE.c.at.desc()).limit(limit)).scalars())
    if len(recent) < limit or recent[0] - recent[-1] > WINDOW:
        return 0
    return max(0, math.ceil((recent[0] + COOLING - now).total_seconds()))
