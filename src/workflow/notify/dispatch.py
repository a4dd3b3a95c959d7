"""The dispatcher: claims due outbox rows with a lease, sends them outside any transaction, then marks each
sent — or, when the server refuses one, due again later (exponential backoff with jitter) or dead with the
server's reply.

Only a server's answer about a message (a 4xx or 5xx reply) spends one of that message's attempts. When the server
does not answer at all — refused, timed out, unknown host, TLS or login failure, a dropped connection — no message
is to blame: the whole queue waits, and one dispatcher tries one connection per backoff step (doubling up to a
cap, without jitter) until the server answers. That state is kept in the ``mail_health`` row
(:mod:`workflow.notify.health`), where administrators see it.

As with timers, claiming is one ``UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING``, so several dispatchers
never send the same row. A dispatcher that dies after sending but before marking a row leaves it to be sent
again once its lease runs out; the row keeps its Message-ID, so mail systems see the same message.
"""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update

from workflow.clock import Clock
from workflow.notify.health import read_health, record_delivered, record_reachable, record_unreachable, take_probe
from workflow.notify.smtp import DeliveryFailed, SmtpSender, Unreachable, build_message
from workflow.store.database import Database
from workflow.store.tables import OUTBOX

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends what the outbox holds. Without an SMTP server configured it sends nothing and keeps everything."""

    def __init__(self, database: Database, clock: Clock, sender: SmtpSender | None, *, lease_seconds: float = 120.0,
                 max_attempts: int = 8, backoff_seconds: float = 30.0, max_backoff_seconds: float = 6 * 3600.0,
                 unreachable_max_backoff_seconds: float = 900.0, owner: str | None = None,
                 rng: random.Random | None = None) -> None:
        self._db = database
        self._clock = clock
        self.sender = sender
        self._lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._max_probe_wait = unreachable_max_backoff_seconds
        self.owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()

    def _due(self) -> Any:
        """Messages due now: pending ones whose time came, and claimed ones whose claim ran out."""
        now = self._clock.now()
        return or_(and_(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now),
                   and_(OUTBOX.c.status == "sending", OUTBOX.c.lease_until < now))

    def claim(self, limit: int = 50) -> list[Any]:
        """Claim up to ``limit`` due messages (and those whose claim ran out); returns their rows."""
        now = self._clock.now()
        chosen = (select(OUTBOX.c.id).where(self._due()).order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
                  .limit(limit).with_for_update(skip_locked=True))
        with self._db.begin() as conn:
            ids = [row.id for row in conn.execute(
                update(OUTBOX).where(OUTBOX.c.id.in_(chosen))
                .values(status="sending", lease_owner=self.owner, lease_until=now + self._lease,
                        attempts=OUTBOX.c.attempts + 1).returning(OUTBOX.c.id))]
            return list(conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id))) if ids else []

    def run(self, *, batch: int = 50, stop: threading.Event | None = None) -> int:
        """Send everything due now over one connection; returns how many messages were sent."""
        if self.sender is None or not self._should_connect():
            return 0
        try:
            client = self.sender.open()
        except Unreachable as failure:
            self._unreachable(failure)
            return 0
        with self._db.begin() as conn:
            record_reachable(conn)
        sent = 0
        try:
            while stop is None or not stop.is_set():
                rows = self.claim(batch)
                if not rows:
                    break
                done, lost = self._send_batch(client, rows)
                sent += done
                if lost:
                    break
        finally:
            try:
                client.quit()
            except Exception:  # the server may already have gone; nothing is lost by not saying goodbye
                log.debug("SMTP quit failed", exc_info=True)
        if sent:
            with self._db.begin() as conn:
                record_delivered(conn, self._clock.now())
        return sent

    def _should_connect(self) -> bool:
        """Whether to open a connection now: while the server answers, when something is due; while it does not,
        when the next probe is due and no other dispatcher took it."""
        with self._db.begin() as conn:
            if read_health(conn).failing_since is not None:
                return take_probe(conn, self._clock.now(), self._lease)
            return bool(conn.execute(select(exists().where(self._due()))).scalar())

    def _unreachable(self, failure: Unreachable) -> None:
        with self._db.begin() as conn:
            health = record_unreachable(conn, self._clock.now(), failure.reason, base_seconds=self._backoff,
                                        cap_seconds=self._max_probe_wait)
        log.warning("the mail server does not answer (%s); trying again at %s", failure.reply, health.next_probe_at)

    def _send_batch(self, client: smtplib.SMTP, rows: list[Any]) -> tuple[int, bool]:
        """Send claimed rows on an open connection: how many were sent, and whether the connection was lost."""
        assert self.sender is not None
        sent = 0
        for index, row in enumerate(rows):
            if not self._still_mine(row.id):  # a slow batch: another dispatcher may have taken it over
                continue
            try:
                message = build_message(row, self.sender.settings.sender)
            except Exception as error:  # a message that cannot be built will never send: keep it as dead
                self._mark(row.id, status="dead", last_error=f"cannot build the message: {error}"[:2000])
                continue
            try:
                self.sender.send(client, message)
            except Unreachable as failure:  # no answer about this message or the rest: none of them spends one
                for rest in rows[index:]:
                    self._mark(rest.id, status="pending", attempts=rest.attempts - 1, last_error=failure.reply)
                self._unreachable(failure)
                return sent, True
            except DeliveryFailed as failure:
                self._failed(row, failure)
                continue
            self._mark(row.id, status="sent", sent_at=self._clock.now(), last_error="")
            sent += 1
        return sent, False

    def _failed(self, row: Any, failure: DeliveryFailed) -> None:
        if failure.permanent or row.attempts >= self.max_attempts:
            log.warning("message %s to %s is dead: %s", row.message_id, row.recipient, failure.reply)
            self._mark(row.id, status="dead", last_error=failure.reply)
            return
        self._mark(row.id, status="pending", last_error=failure.reply, next_attempt_at=self.retry_at(row.attempts))

    def retry_at(self, attempts: int) -> datetime:
        """When to try again after ``attempts`` tries: doubling each time, capped, with up to 50 % jitter."""
        delay = min(self._backoff * 2 ** max(0, attempts - 1), self._max_backoff)
        return self._clock.now() + timedelta(seconds=delay * (1 + 0.5 * self._rng.random()))

    def _still_mine(self, message_id: int) -> bool:
        """Renew this dispatcher's claim on a message just before sending it; False if the claim was lost."""
        now = self._clock.now()
        with self._db.begin() as conn:
            renewed = conn.execute(update(OUTBOX).where(
                OUTBOX.c.id == message_id, OUTBOX.c.lease_owner == self.owner, OUTBOX.c.status == "sending",
                OUTBOX.c.lease_until >= now).values(lease_until=now + self._lease))
            return renewed.rowcount == 1

    def _mark(self, message_id: int, **values: Any) -> None:
        with self._db.begin() as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id, OUTBOX.c.lease_owner == self.owner,
                                              OUTBOX.c.status == "sending")
                         .values(lease_owner=None, lease_until=None, **values))
