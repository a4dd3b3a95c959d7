"""The second factor for local accounts: time-based one-time passwords (RFC 6238, six digits every 30 seconds)
and one-use recovery codes.

Enrolment is confirmed with a first code before the secret is kept. A code is accepted once: the time step of
the last accepted code is stored and no code of that step or an earlier one is taken again. Recovery codes are
random (80 bits), shown once and stored as SHA-256; each works once. Wrong codes are throttled like passwords.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Literal

import pyotp
from sqlalchemy import delete, func, select, update

from workflow.clock import Clock
from workflow.errors import InvalidInput, NotAuthenticated, TooManyAttempts
from workflow.services.signin_log import Client, SignInLog
from workflow.store.database import Database
from workflow.store.people import LoginFailure, RecoveryCode, User

USER = User.__table__  # type: ignore[attr-defined]
CODE = RecoveryCode.__table__  # type: ignore[attr-defined]
FAILURE = LoginFailure.__table__  # type: ignore[attr-defined]
ISSUER = "Micro-credential workflow"
RECOVERY_CODES = 10
LIMIT = 5  # wrong codes in WINDOW before the account's codes are refused for a while
WINDOW = timedelta(minutes=15)
Required = Literal["administrators", "everyone", "nobody"]


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def new_secret() -> str:
    """A fresh base32 secret (160 bits) for an authenticator app."""
    return pyotp.random_base32(32)


def valid_secret(secret: str) -> bool:
    """Whether ``secret`` is one :func:`new_secret` could have made (a form may send anything back)."""
    return re.fullmatch(r"[A-Z2-7]{32}", secret) is not None


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


class SecondFactor:
    """Enrols, checks and removes a person's second factor."""

    def __init__(self, database: Database, clock: Clock, log: SignInLog, *,
                 required: Required = "administrators") -> None:
        self._db = database
        self._clock = clock
        self._log = log
        self.required = required

    def enrolled(self, user_id: int) -> bool:
        """Whether the person has a second factor."""
        with self._db.begin_read() as conn:
            return conn.execute(select(USER.c.totp_secret).where(USER.c.id == user_id)).scalar() is not None

    def must_enrol(self, user_id: int, *, is_admin: bool) -> bool:
        """Whether the person has to set up a second factor before anything else."""
        needed = self.required == "everyone" or (self.required == "administrators" and is_admin)
        return needed and not self.enrolled(user_id)

    def recovery_codes_left(self, user_id: int) -> int:
        """How many unused recovery codes the person has."""
        with self._db.begin_read() as conn:
            return int(conn.execute(select(func.count()).select_from(CODE)
                                    .where(CODE.c.user_id == user_id, CODE.c.used_at.is_(None))).scalar_one())

    def enrol(self, user_id: int, *, secret: str, code: str, client: Client) -> list[str]:
        """Keep ``secret`` once ``code`` shows the app has it; returns new recovery codes (shown once).

        Raises:
            InvalidInput: on ``code``, when it is not the app's current code.
        """
        if not valid_secret(secret):
            raise InvalidInput("secret", "the key was changed; scan the new code and type what your app shows")
        step = self._matching_step(secret, code, after=None)
        if step is None:
            raise InvalidInput("code", "that is not the code your app shows now; check the time on your phone "
                                       "and type the six digits again")
        codes = [secrets.token_hex(10) for _ in range(RECOVERY_CODES)]
        with self._db.begin() as conn:
            conn.execute(update(USER).where(USER.c.id == user_id).values(totp_secret=secret, totp_last_step=step))
            conn.execute(delete(CODE).where(CODE.c.user_id == user_id))
            conn.execute(CODE.insert(), [{"user_id": user_id, "code_hash": _hash(c)} for c in codes])
        self._log.record("second_factor_enrolled", user_id=user_id, method="authenticator app", client=client)
        return [f"{c[:5]}-{c[5:10]}-{c[10:15]}-{c[15:]}" for c in codes]

    def remove(self, user_id: int) -> None:
        """Take the second factor away (and its recovery codes)."""
        with self._db.begin() as conn:
            conn.execute(update(USER).where(USER.c.id == user_id).values(totp_secret=None, totp_last_step=None))
            conn.execute(delete(CODE).where(CODE.c.user_id == user_id))

    def verify(self, user_id: int, code: str, *, client: Client) -> str:
        """Check a code from the app, or a recovery code; returns which it was ("authenticator app" or
        "recovery code"). Either is used up.

        Raises:
            TooManyAttempts: after ``LIMIT`` wrong codes within ``WINDOW`` (nothing is checked then).
            NotAuthenticated: a wrong, reused or used-up code.
        """
        now = self._clock.now()
        key = f"user:{user_id}"
        with self._db.begin_read() as conn:
            failures = int(conn.execute(select(func.count()).select_from(FAILURE).where(
                FAILURE.c.scope == "totp", FAILURE.c.key == key, FAILURE.c.at > now - WINDOW)).scalar_one())
            user = conn.execute(select(USER.c.totp_secret, USER.c.totp_last_step).where(USER.c.id == user_id)).first()
        if failures >= LIMIT:
            raise TooManyAttempts(int(WINDOW.total_seconds()))
        cleaned = code.strip().replace(" ", "")
        if user is not None and user.totp_secret and cleaned.isdigit() and len(cleaned) == 6:
            step = self._matching_step(user.totp_secret, cleaned, after=user.totp_last_step)
            if step is not None:
                with self._db.begin() as conn:  # taken once: only a later step than the last may be stored
                    taken = conn.execute(update(USER).where(
                        USER.c.id == user_id,
                        (USER.c.totp_last_step.is_(None)) | (USER.c.totp_last_step < step))
                        .values(totp_last_step=step)).rowcount == 1
                if taken:
                    self._log.record("second_factor", user_id=user_id, method="authenticator app", client=client)
                    return "authenticator app"
        elif user is not None and user.totp_secret and len(cleaned) >= 16:
            with self._db.begin() as conn:
                used = conn.execute(update(CODE).where(CODE.c.user_id == user_id, CODE.c.code_hash == _hash(cleaned),
                                                       CODE.c.used_at.is_(None)).values(used_at=now)).rowcount == 1
            if used:
                self._log.record("recovery_code", user_id=user_id, method="recovery code", client=client,
                                 detail=f"{self.recovery_codes_left(user_id)} recovery code(s) left")
                return "recovery code"
        with self._db.begin() as conn:
            conn.execute(FAILURE.insert(), {"scope": "totp", "key": key, "at": now})
        self._log.record("second_factor_failed", user_id=user_id, method="second factor", client=client,
                         detail="wrong or already used code")
        raise NotAuthenticated("that code is wrong or was already used")

    def _matching_step(self, secret: str, code: str, *, after: int | None) -> int | None:
        """The time step (the current one, or one either side for clock drift) whose code is ``code``."""
        code = code.strip().replace(" ", "")
        totp = pyotp.TOTP(secret)
        now = self._clock.now()
        current = totp.timecode(now)
        for step in (current, current - 1, current + 1):
            if (after is None or step > after) and secrets.compare_digest(totp.generate_otp(step), code):
                return step
        return None
