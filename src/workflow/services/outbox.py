"""What administrators see of the email outbox — pending, sent and dead messages, whether mail is getting out —
and retrying dead ones, one or many at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select, update

from workflow.clock import Clock
from workflow.errors import Conflict, NotFound
from workflow.notify.health import read_health
from workflow.services.access import Caller, require_admin
from workflow.store.database import Database
from workflow.store.tables import OUTBOX

STATUSES = ("held", "pending", "sending", "sent", "dead", "digested")
KIND_TITLES = {  # the kinds of message, in the words of the outbox page and the command line
    "decision_needed": "Decision needed", "decided": "Decision made", "state_changed": "State changed",
    "item_assigned": "Checklist item assigned", "reminder": "Reminder", "escalation": "Escalation",
    "warning": "Warning", "digest": "Daily digest", "account_invitation": "Account invitation",
    "password_reset": "Password reset link",
}


def kind_title(kind: str) -> str:
    """A kind of message in words."""
    return KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())


@dataclass(frozen=True)
class DeadFilter:
    """Which dead messages to retry: of one kind, to one address, created within a span (any, when None)."""

    kind: str | None = None
    recipient: str | None = None
    since: datetime | None = None  # created at or after
    before: datetime | None = None  # created before

    @classmethod
    def days(cls, zone: str, *, kind: str | None = None, recipient: str | None = None, since: date | None = None,
             until: date | None = None) -> DeadFilter:
        """The filter for messages created from the start of ``since`` to the end of ``until``, local days."""
        tz = ZoneInfo(zone)
        return cls(kind or None, (recipient or "").strip() or None,
                   datetime.combine(since, time(), tz) if since else None,
                   datetime.combine(until + timedelta(days=1), time(), tz) if until else None)

    def where(self) -> ColumnElement[bool]:
        terms = [OUTBOX.c.status == "dead"]
        if self.kind:
            terms.append(OUTBOX.c.kind == self.kind)
        if self.recipient:
            terms.append(func.lower(OUTBOX.c.recipient) == self.recipient.lower())
        if self.since:
            terms.append(OUTBOX.c.created_at >= self.since)
        if self.before:
            terms.append(OUTBOX.c.created_at < self.before)
        return and_(*terms)


@dataclass(frozen=True)
class MailStatus:
    """Whether email is getting out: since when the server has not answered and why, and how much waits."""

    failing_since: datetime | None
    last_error: str
    next_try_at: datetime | None
    last_success_at: datetime | None
    waiting: int
    dead: int
    alert: bool  # failing for longer than administrators are told after


@dataclass(frozen=True)
class OutboxEntry:
    """One message as the outbox page lists it."""

    id: int
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    credential_id: int | None
    created_at: datetime
    sent_at: datetime | None


class OutboxService:
    """Read and retry the outbox."""

    def __init__(self, database: Database, clock: Clock, *, alert_after: timedelta = timedelta(minutes=10)) -> None:
        self._db = database
        self._clock = clock
        self._alert_after = alert_after

    def listing(self, *, by: Caller, status: str | None = None, limit: int = 100,
                offset: int = 0) -> tuple[list[OutboxEntry], dict[str, int]]:
        """Messages, newest first, and how many there are in each status."""
        require_admin(by, "see the email outbox")
        query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit).offset(offset)
        if status is not None:
            query = query.where(OUTBOX.c.status == status)
        with self._db.begin_read() as conn:
            rows = [OutboxEntry(r.id, r.kind, r.recipient, r.subject, r.status, r.attempts, r.next_attempt_at,
                                r.last_error, r.credential_id, r.created_at, r.sent_at) for r in conn.execute(query)]
            counts = {row[0]: int(row[1]) for row in conn.execute(
                select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status))}
        return rows, counts

    def message(self, message_id: int, *, by: Caller) -> dict[str, Any]:
        """One message in full: headers, both bodies, the calendar attachment."""
        require_admin(by, "see the email outbox")
        with self._db.begin_read() as conn:
            row = conn.execute(select(OUTBOX).where(OUTBOX.c.id == message_id)).first()
        if row is None:
            raise NotFound("message", message_id)
        return dict(row._mapping)

    def retry(self, message_id: int, *, by: Caller) -> None:
        """Send a dead message again (after the address or the server was fixed)."""
        require_admin(by, "see the email outbox")
        with self._db.begin() as conn:
            row = conn.execute(select(OUTBOX.c.status).where(OUTBOX.c.id == message_id)).first()
            if row is None:
                raise NotFound("message", message_id)
            if row.status != "dead":
                raise Conflict(f"message {message_id} is {row.status}; only dead messages are retried")
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(
                status="pending", attempts=0, next_attempt_at=self._clock.now(), last_error=""))

    def mail_status(self, *, by: Caller) -> MailStatus:
        """Whether email is getting out, for administrators."""
        require_admin(by, "see whether email is delivered")
        with self._db.begin_read() as conn:
            health = read_health(conn)
            counts = {row[0]: int(row[1]) for row in conn.execute(
                select(OUTBOX.c.status, func.count()).where(OUTBOX.c.status.in_(("pending", "sending", "dead")))
                .group_by(OUTBOX.c.status))}
        failing = health.failing_since is not None and health.failing_for(self._clock.now()) > self._alert_after
        return MailStatus(health.failing_since, health.last_error if health.failing_since else "",
                          health.next_probe_at, health.last_success_at,
                          counts.get("pending", 0) + counts.get("sending", 0), counts.get("dead", 0), failing)

    def mail_alert(self, caller: Caller | None) -> MailStatus | None:
        """What every page tells an administrator while email has been failing too long; None otherwise."""
        if caller is None or not caller.is_admin:
            return None
        status = self.mail_status(by=caller)
        return status if status.alert else None

    def dead_kinds(self, *, by: Caller) -> list[str]:
        """The kinds of message among the dead ones."""
        require_admin(by, "see the email outbox")
        with self._db.begin_read() as conn:
            return sorted(r[0] for r in conn.execute(select(OUTBOX.c.kind).where(OUTBOX.c.status == "dead")
                                                     .distinct()))

    def dead_count(self, chosen: DeadFilter, *, by: Caller) -> int:
        """How many dead messages the filter picks (what a retry of them all would queue)."""
        require_admin(by, "see the email outbox")
        with self._db.begin_read() as conn:
            return int(conn.execute(select(func.count()).select_from(OUTBOX).where(chosen.where())).scalar_one())

    def retry_dead(self, chosen: DeadFilter, *, by: Caller) -> int:
        """Queue every dead message the filter picks again, in one transaction; returns how many."""
        require_admin(by, "retry email")
        with self._db.begin() as conn:
            return int(conn.execute(update(OUTBOX).where(chosen.where()).values(
                status="pending", attempts=0, next_attempt_at=self._clock.now(), last_error="")).rowcount)
