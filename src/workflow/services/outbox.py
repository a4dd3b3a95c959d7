"""What administrators see of the email outbox — pending, sent and dead messages — and retrying dead ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from workflow.clock import Clock
from workflow.errors import Conflict, NotFound
from workflow.services.access import Caller, require_admin
from workflow.store.database import Database
from workflow.store.tables import OUTBOX

STATUSES = ("held", "pending", "sending", "sent", "dead", "digested")


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

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

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
