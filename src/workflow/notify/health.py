"""Whether email is getting out, as the dispatchers record it in the one ``mail_health`` row: when the server
stopped answering and why, when it will be tried again, and when a message last went out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.store.tables import MAIL_HEALTH

ROW = MAIL_HEALTH.c.id == 1
HEALTHY = {"id": 1, "failing_since": None, "last_error": "", "probes": 0, "next_probe_at": None,
           "last_success_at": None}


@dataclass(frozen=True)
class MailHealth:
    """The recorded state; ``failing_since`` is None while the server answers."""

    failing_since: datetime | None = None
    last_error: str = ""
    probes: int = 0
    next_probe_at: datetime | None = None
    last_success_at: datetime | None = None

    def failing_for(self, now: datetime) -> timedelta:
        """How long the server has not answered (zero while it does)."""
        return now - self.failing_since if self.failing_since is not None else timedelta(0)


def read_health(conn: Connection) -> MailHealth:
    """The recorded state (healthy if nothing was ever recorded)."""
    row = conn.execute(select(MAIL_HEALTH).where(ROW)).first()
    if row is None:
        return MailHealth()
    return MailHealth(row.failing_since, row.last_error, row.probes, row.next_probe_at, row.last_success_at)


def probe_delay(probes: int, base_seconds: float, cap_seconds: float) -> timedelta:
    """How long to wait after ``probes`` failed connections in a row: ``base`` doubling each time, capped. No
    jitter: the whole queue waits on one probe, so there is no crowd of retries to spread out."""
    return timedelta(seconds=min(base_seconds * 2 ** max(0, probes - 1), cap_seconds))


def take_probe(conn: Connection, now: datetime, hold: timedelta) -> bool:
    """While the server is failing, claim the next probe (True) if it is due and no other dispatcher took it;
    the claim moves ``next_probe_at`` on by ``hold`` so others wait while this one connects."""
    taken = conn.execute(update(MAIL_HEALTH).where(ROW, MAIL_HEALTH.c.failing_since.is_not(None),
                                                   MAIL_HEALTH.c.next_probe_at <= now)
                         .values(next_probe_at=now + hold))
    return taken.rowcount == 1


def record_unreachable(conn: Connection, now: datetime, reason: str, *, base_seconds: float,
                       cap_seconds: float) -> MailHealth:
    """The server did not answer: count the probe and set the next one."""
    health = read_health(conn)
    probes = health.probes + 1
    _write(conn, failing_since=health.failing_since or now, last_error=reason[:2000], probes=probes,
           next_probe_at=now + probe_delay(probes, base_seconds, cap_seconds))
    return read_health(conn)


def record_reachable(conn: Connection) -> None:
    """The server answered: the queue goes out again."""
    conn.execute(update(MAIL_HEALTH).where(ROW, MAIL_HEALTH.c.failing_since.is_not(None)).values(
        failing_since=None, probes=0, next_probe_at=None))


def record_delivered(conn: Connection, now: datetime) -> None:
    """A message was accepted."""
    _write(conn, last_success_at=now)


def _write(conn: Connection, **values: Any) -> None:
    """Change the one row, adding it the first time (a database starts without it, so a restored backup's row
    never meets one the schema made)."""
    if conn.execute(update(MAIL_HEALTH).where(ROW).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(MAIL_HEALTH).values(**(HEALTHY | values)))
    except IntegrityError:  # another dispatcher added it just now
        conn.execute(update(MAIL_HEALTH).where(ROW).values(**values))
