"""Authentication: passwords (Argon2id), browser sessions with a CSRF token, and personal API tokens.

Only hashes are stored: Argon2 for passwords, SHA-256 for the random session and API tokens (which carry
256 bits of randomness, so a fast hash is the right one).

New passwords follow OWASP ASVS V2.1 (:func:`password_problem`, the one place the rules live): at least 12
characters, up to 128, any characters, no composition rules, and not on the shipped list of breached passwords.

Sessions end after ``idle`` without a request and at ``lifetime`` whatever happens (ASVS V3.3). A session opened
by a password whose owner has a second factor is only half open (stage ``second_factor``) until the code is given;
an administrator without one, where it is required, gets a session that can only enrol one (stage ``enrol``).

Password guessing is throttled in the database (so every server process sees the same count): after
``USERNAME_LIMIT`` failures for one username within ``WINDOW``, that username is refused for ``COOLING`` after
the last of them, without its password being checked; one client address has a higher limit, across usernames.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select, update

from workflow.clock import Clock
from workflow.engine.data import check_plain_text
from workflow.errors import InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from workflow.services.signin_log import Client, SignInLog
from workflow.store.database import Database
from workflow.store.people import ApiToken, LoginFailure, LoginSession, User

USER = User.__table__  # type: ignore[attr-defined]
TOKEN = ApiToken.__table__  # type: ignore[attr-defined]
SESSION = LoginSession.__table__  # type: ignore[attr-defined]
FAILURE = LoginFailure.__table__  # type: ignore[attr-defined]

TOKEN_PREFIX = "mcw_"
MIN_PASSWORD = 12
MAX_PASSWORD = 128
BREACHED = Path(__file__).parent / "data" / "common-passwords.txt.gz"
SIGNED_IN, SECOND_FACTOR, ENROL = "signed_in", "second_factor", "enrol"  # the stages of a session
MAX_TOKEN_DAYS = 730
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password, used to keep timing even")
USERNAME_LIMIT = 5
ADDRESS_LIMIT = 50
WINDOW = timedelta(minutes=15)
COOLING = timedelta(minutes=15)


@cache
def _breached() -> frozenset[str]:
    with gzip.open(BREACHED, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problem(password: str, *, username: str = "") -> str | None:
    """What is wrong with ``password`` as a new password (ASVS V2.1), or None when it may be used.

    At least ``MIN_PASSWORD`` characters (spaces and any Unicode count, nothing is trimmed), at most
    ``MAX_PASSWORD``; not a known breached password (the shipped list, see data/PROVENANCE.md); not the
    username. No rules about character classes (ASVS 2.1.9).
    """
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters (a few words make a good one)"
    if len(password) > MAX_PASSWORD:
        return f"is too long (at most {MAX_PASSWORD} characters)"
    if password.lower() in _breached():
        return "is on a list of passwords known from data breaches; choose another"
    if username and password.strip().lower() == username.strip().lower():
        return "must not be your username"
    return None


def hash_password(password: str, *, username: str = "") -> str:
    """An Argon2id hash of a new ``password``.

    Raises:
        InvalidInput: on ``password``, if :func:`password_problem` finds one.
    """
    problem = password_problem(password, username=username)
    if problem:
        raise InvalidInput("password", problem)
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
    stage: str = SIGNED_IN
    method: str = "password"
    authenticated_at: datetime | None = None


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
                 idle_minutes: float = 30.0, address_limit: int = ADDRESS_LIMIT,
                 log: SignInLog | None = None, method_words: dict[str, str] | None = None) -> None:
        self._db = database
        self._clock = clock
        self._session_length = timedelta(hours=session_hours)
        self._idle = timedelta(minutes=idle_minutes)
        self._limits = {"username": USERNAME_LIMIT, "address": address_limit}
        self.log = log or SignInLog(database, clock)
        self._method_words = method_words or {}  # a session's method ("oidc:<key>") as the log says it

    def authenticate(self, username: str, password: str, *, address: str | None = None,
                     client: Client | None = None) -> int:
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
        client = client or Client(address or "", "")
        address = address or client.address or None
        keys = [("username", username)] + ([("address", address[:200])] if address else [])
        now = self._clock.now()
        with self._db.begin_read() as conn:
            wait = max(_cooling(conn, scope, key, self._limits[scope], now) for scope, key in keys)
            user = conn.execute(select(USER.c.id, USER.c.password_hash, USER.c.active)
                                .where(USER.c.username == username)).first()
            failed_before = conn.execute(select(FAILURE.c.id).where(FAILURE.c.scope == "username",
                                                                    FAILURE.c.key == username).limit(1)).first()
        if wait > 0:
            self.log.record("failure", user_id=user.id if user is not None else None, username=username,
                            method="password", client=client, detail="sign-ins paused after repeated failures")
            raise TooManyAttempts(wait)
        stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
        right = _password_ok(stored, password) and stored is not _DUMMY_HASH
        ok = right and user is not None and user.active
        if not ok or user is None:
            with self._db.begin() as conn:
                conn.execute(FAILURE.insert(), [{"scope": scope, "key": key, "at": now} for scope, key in keys])
                conn.execute(delete(FAILURE).where(FAILURE.c.at < now - max(WINDOW, COOLING)))
            self.log.record("failure", user_id=user.id if user is not None else None, username=username,
                            method="password", client=client,
                            detail="the account is deactivated" if right else "wrong username or password")
            raise NotAuthenticated("wrong username or password")
        if failed_before is not None or _hasher.check_needs_rehash(stored):
            with self._db.begin() as conn:
                # A correct password starts the username's count afresh (the address keeps its count).
                conn.execute(delete(FAILURE).where(FAILURE.c.scope == "username", FAILURE.c.key == username))
                if _hasher.check_needs_rehash(stored):
                    conn.execute(update(USER).where(USER.c.id == user.id)
                                 .values(password_hash=_hasher.hash(password)))
        return int(user.id)

    def start_session(self, user_id: int, *, stage: str = SIGNED_IN, method: str = "password",
                      log_method: str = "", client: Client | None = None) -> tuple[str, SessionInfo]:
        """Open a browser session; returns the cookie value (shown once) and the session. A session opened
        ``signed_in`` is logged as a sign-in by ``method`` (or the ``log_method`` words for it)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        info = SessionInfo(user_id, secrets.token_urlsafe(32), now + self._session_length, stage, method, now)
        with self._db.begin() as conn:
            conn.execute(SESSION.insert(), {"user_id": user_id, "token_hash": token_hash(token),
                                            "csrf_token": info.csrf_token, "created_at": now,
                                            "expires_at": info.expires_at, "last_seen_at": now,
                                            "authenticated_at": now, "stage": stage, "method": method})
        if stage == SIGNED_IN:
            self.log.record("sign_in", user_id=user_id, method=log_method or self._words(method),
                            client=client or Client("", ""))
        return token, info

    def advance_session(self, token: str, *, stage: str = SIGNED_IN, client: Client | None = None) -> None:
        """Move a half-open session on (a second factor given, or one just enrolled): it counts as freshly
        authenticated, and is logged as a sign-in once fully open."""
        now = self._clock.now()
        with self._db.begin() as conn:
            row = conn.execute(update(SESSION).where(SESSION.c.token_hash == token_hash(token))
                               .values(stage=stage, authenticated_at=now, last_seen_at=now)
                               .returning(SESSION.c.user_id)).first()
        if row is not None and stage == SIGNED_IN:
            self.log.record("sign_in", user_id=row.user_id, method="password and second factor",
                            client=client or Client("", ""))

    def reauthenticated(self, token: str) -> None:
        """The person just gave their password (or second factor) again: sensitive changes are open for a while."""
        now = self._clock.now()
        with self._db.begin() as conn:
            conn.execute(update(SESSION).where(SESSION.c.token_hash == token_hash(token))
                         .values(authenticated_at=now, last_seen_at=now))

    def session(self, token: str) -> SessionInfo | None:
        """The session a cookie value opens, if it is current (not idle longer than ``idle``, not past its
        absolute end) and its user active. Each use counts as activity."""
        hashed = token_hash(token)
        with self._db.begin_read() as conn:
            row = conn.execute(
                select(SESSION.c.id, SESSION.c.user_id, SESSION.c.csrf_token, SESSION.c.expires_at,
                       SESSION.c.created_at, SESSION.c.last_seen_at, SESSION.c.authenticated_at, SESSION.c.stage,
                       SESSION.c.method)
                .join(USER, USER.c.id == SESSION.c.user_id)
                .where(SESSION.c.token_hash == hashed, USER.c.active.is_(True))).first()
        if row is None:
            return None
        now = self._clock.now()
        seen = row.last_seen_at or row.created_at
        if row.expires_at <= now or now - seen >= self._idle:
            with self._db.begin() as conn:
                conn.execute(SESSION.delete().where(SESSION.c.id == row.id))
            self.log.record("session_ended", user_id=row.user_id, method=self._words(row.method),
                            client=Client("", ""),
                            detail="its time limit was reached" if row.expires_at <= now
                            else "no activity for too long")
            return None
        if now - seen >= timedelta(seconds=30):  # activity is written at most twice a minute
            with self._db.begin() as conn:
                conn.execute(update(SESSION).where(SESSION.c.id == row.id).values(last_seen_at=now))
        return SessionInfo(row.user_id, row.csrf_token, row.expires_at, row.stage, row.method,
                           row.authenticated_at or row.created_at)

    def _words(self, method: str) -> str:
        return self._method_words.get(method, method)

    def recently_authenticated(self, session: SessionInfo, within: timedelta) -> bool:
        """Whether the session's person proved who they are within ``within`` (for sensitive changes)."""
        return session.authenticated_at is not None and self._clock.now() - session.authenticated_at < within

    def end_session(self, token: str, *, client: Client | None = None) -> None:
        """Sign out: the cookie value no longer opens anything."""
        with self._db.begin() as conn:
            row = conn.execute(SESSION.delete().where(SESSION.c.token_hash == token_hash(token))
                               .returning(SESSION.c.user_id, SESSION.c.method)).first()
        if row is not None:
            self.log.record("sign_out", user_id=row.user_id, method=self._words(row.method),
                            client=client or Client("", ""))

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

    def token_user(self, token: str, *, client: Client | None = None) -> int | None:
        """The user an API token belongs to, if it is valid and not revoked. Its use is logged (at most once every
        five minutes per token, like its last use)."""
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
            self.log.record("token_use", user_id=row.user_id, method="API token", client=client or Client("", ""),
                            detail=f"token {token[:12]}…")
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


def _password_ok(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


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
