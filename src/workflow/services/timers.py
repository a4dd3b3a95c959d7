"""Durable timers: kept in step with each credential inside the same transaction as the change that moves them
(by :func:`workflow.store.history.sync_timers`), and claimed by due time so that each fires once, whichever
process gets there first.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... ORDER BY due_at LIMIT n FOR UPDATE SKIP LOCKED) RETURNING
id``: on PostgreSQL concurrent schedulers skip each other's rows; on SQLite the write transaction already holds
the lock (SQLAlchemy leaves ``SKIP LOCKED`` out there). A claim is a lease: a process that dies mid-run leaves
rows that another process takes over once the lease has run out. The action itself re-checks the claim under
the credential's lock and marks the timer done in the same transaction, so a late or retried claim cannot act
twice.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, func, or_, select, update

from workflow.clock import Clock
from workflow.store.database import Database
from workflow.store.tables import CREDENTIAL, TIMER

log = logging.getLogger(__name__)


_NOW: BindParameter[Any] = bindparam("now")
_CLAIM = (update(TIMER)
          .where(TIMER.c.id.in_(
              select(TIMER.c.id)
              .where(or_(and_(TIMER.c.status == "pending", TIMER.c.due_at <= _NOW),
                         and_(TIMER.c.status == "running", TIMER.c.lease_until < _NOW)))
              .order_by(TIMER.c.due_at).limit(bindparam("n")).with_for_update(skip_locked=True)))
          .values(status="running", lease_owner=bindparam("owner"), lease_until=bindparam("until"),
                  attempts=TIMER.c.attempts + 1)
          .returning(TIMER.c.id, TIMER.c.due_at, TIMER.c.credential_id, TIMER.c.key))


@dataclass(frozen=True)
class TimerView:
    """A timer as people see it."""

    id: int
    credential_id: int
    title: str
    key: str
    action: str
    due_at: datetime
    state: str | None
    status: str
    outcome: str


class TimerService:
    """Claims due timers and has them fired; lists due and upcoming timers."""

    def __init__(self, database: Database, clock: Clock, fire: Callable[[int, str], str], *,
                 lease_seconds: float = 60.0, owner: str | None = None) -> None:
        self._db = database
        self._clock = clock
        self._fire = fire
        self._lease = timedelta(seconds=lease_seconds)
        self.owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    def claim(self, limit: int = 100) -> list[int]:
        """Claim up to ``limit`` due timers (and timers whose claim ran out) for this process, oldest first."""
        return [row.id for row in self._claim(limit)]

    def _claim(self, limit: int) -> list[Any]:
        now = self._clock.now()
        with self._db.begin() as conn:
            rows = conn.execute(_CLAIM, {"now": now, "n": limit, "owner": self.owner,
                                         "until": now + self._lease}).all()
        return sorted(rows, key=lambda r: (r.due_at, r.id))

    def run_due(self, *, batch: int = 100, stop: threading.Event | None = None) -> int:
        """Fire everything due now, batch by batch, logging each firing (timer, credential, result) at INFO;
        returns how many timers were handled."""
        handled = 0
        while stop is None or not stop.is_set():
            claimed = self._claim(batch)
            if not claimed:
                break
            for timer in claimed:
                try:
                    result = self._fire(timer.id, self.owner)
                except Exception:  # one broken timer must not stop the others; its lease lets it be retried
                    log.exception("timer %s (%s) on credential %s failed", timer.id, timer.key, timer.credential_id)
                else:
                    log.info("timer %s (%s) on credential %s: %s", timer.id, timer.key, timer.credential_id, result)
                handled += 1
        return handled

    def listing(self, *, status: str | None = "pending", credential_ids: Sequence[int] | None = None,
                due_before: datetime | None = None, limit: int = 100, visible: Any = None) -> list[TimerView]:
        """Timers by due time, optionally only some credentials' (or those ``visible``, a condition on the
        credential table), or those due before a time."""
        query = (select(TIMER, CREDENTIAL.c.title).join(CREDENTIAL, CREDENTIAL.c.id == TIMER.c.credential_id)
                 .order_by(TIMER.c.due_at, TIMER.c.id).limit(limit))
        if visible is not None:
            query = query.where(visible)
        if status is not None:
            query = query.where(TIMER.c.status == status)
        if credential_ids is not None:
            query = query.where(TIMER.c.credential_id.in_(list(credential_ids)))
        if due_before is not None:
            query = query.where(TIMER.c.due_at <= due_before)
        with self._db.begin_read() as conn:
            return [TimerView(r.id, r.credential_id, r.title, r.key, r.action, r.due_at, r.state, r.status,
                              r.outcome) for r in conn.execute(query)]

    def counts(self) -> dict[str, Any]:
        """How many timers there are by status, and how many are due now."""
        now = self._clock.now()
        with self._db.begin_read() as conn:
            grouped = conn.execute(select(TIMER.c.status, func.count()).group_by(TIMER.c.status))
            by_status: dict[str, int] = {row[0]: int(row[1]) for row in grouped}
            due = conn.execute(select(func.count()).select_from(TIMER)
                               .where(TIMER.c.status == "pending", TIMER.c.due_at <= now)).scalar()
        return {"by_status": by_status, "due_now": int(due or 0)}
