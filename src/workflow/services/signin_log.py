"""The sign-in log: every sign-in, failed attempt, second-factor use, sign-out, ended session and API token use,
with when, how, from which address and browser. People read their own ("recent activity"); administrators read
everyone's. Lines older than the kept period are removed as new ones are written. No secret is ever written here:
only what kind of event, the method's name and, for a token, its public prefix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from workflow.clock import Clock
from workflow.store.database import Database
from workflow.store.people import SignInEvent, User

EVENT = SignInEvent.__table__  # type: ignore[attr-defined]
USER = User.__table__  # type: ignore[attr-defined]
KINDS = {  # what each kind of line says to a person
    "sign_in": "Signed in",
    "failure": "Sign-in refused",
    "second_factor": "Second factor used",
    "second_factor_failed": "Second factor refused",
    "recovery_code": "Recovery code used",
    "second_factor_enrolled": "Second factor set up",
    "sign_out": "Signed out",
    "session_ended": "Session ended",
    "token_use": "API token used",
}


@dataclass(frozen=True)
class Client:
    """Where a request came from: the client's address and its User-Agent (both as the server saw them)."""

    address: str
    user_agent: str


class SignInLog:
    """Writes and reads the sign-in log."""

    def __init__(self, database: Database, clock: Clock, *, keep_days: int = 180) -> None:
        self._db = database
        self._clock = clock
        self._keep = timedelta(days=keep_days)

    def record(self, kind: str, *, client: Client, method: str, user_id: int | None = None, username: str = "",
               detail: str = "") -> None:
        """Add one line (``kind`` is a key of ``KINDS``); the username is looked up when only the id is known."""
        assert kind in KINDS, kind
        now = self._clock.now()
        with self._db.begin() as conn:
            if not username and user_id is not None:
                username = conn.execute(select(USER.c.username).where(USER.c.id == user_id)).scalar() or ""
            conn.execute(EVENT.insert(), {"user_id": user_id, "username": username[:200], "at": now, "kind": kind,
                                          "method": method[:120], "address": client.address[:200],
                                          "user_agent": client.user_agent[:300], "detail": detail[:300]})
            conn.execute(delete(EVENT).where(EVENT.c.at < now - self._keep))

    def recent(self, *, user_id: int | None = None, limit: int = 50, offset: int = 0,
               username: str = "") -> tuple[list[dict[str, Any]], int]:
        """The newest lines first (one person's, or everyone's; optionally of one username), and how many in all."""
        where = []
        if user_id is not None:
            where.append(EVENT.c.user_id == user_id)
        if username:
            where.append(EVENT.c.username == username)
        with self._db.begin_read() as conn:
            total = int(conn.execute(select(func.count()).select_from(EVENT).where(*where)).scalar_one())
            rows = conn.execute(select(EVENT).where(*where).order_by(EVENT.c.at.desc(), EVENT.c.id.desc())
                                .limit(limit).offset(offset))
            return [dict(row._mapping, what=KINDS[row.kind]) for row in rows], total

    def oldest_kept(self) -> datetime:
        """The earliest time a line may be from (older ones are removed)."""
        return self._clock.now() - self._keep
