"""Daily digests: at the local hour a person or department chose, everything held for them goes out as one
message. Reminders and escalations are never held (see ``outbox.URGENT``)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import make_msgid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, insert, select, update

from workflow.clock import Clock
from workflow.notify.render import Renderer
from workflow.store.database import Database
from workflow.store.people import ORG_UNIT, USER
from workflow.store.tables import OUTBOX


class DigestService:
    """Gathers held messages into one digest per recipient, once a day."""

    def __init__(self, database: Database, clock: Clock, renderer: Renderer, *, timezone: str, mail_domain: str,
                 public_url: str) -> None:
        self._db = database
        self._clock = clock
        self._renderer = renderer
        self._zone = _zone(timezone, ZoneInfo("UTC"))
        self._domain = mail_domain
        self._public_url = public_url.rstrip("/")

    def run(self) -> int:
        """Write the digests that are due now; returns how many were written."""
        now = self._clock.now()
        with self._db.begin_read() as conn:
            waiting = conn.execute(
                select(OUTBOX.c.recipient, func.min(OUTBOX.c.user_id), func.min(OUTBOX.c.org_unit_id))
                .where(OUTBOX.c.status == "held").group_by(OUTBOX.c.recipient)).all()
        written = 0
        for recipient, user_id, unit_id in waiting:
            hour, zone = self._preference(user_id, unit_id)
            local = now.astimezone(zone)
            if hour is not None and local.hour < hour:
                continue
            midnight = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
            # Once a day at the chosen hour; if the preference was removed, what was held goes at once.
            written += self._write(recipient, user_id, unit_id, now, since=midnight if hour is not None else None)
        return written

    def _preference(self, user_id: int | None, unit_id: int | None) -> tuple[int | None, ZoneInfo]:
        with self._db.begin_read() as conn:
            table = USER if user_id is not None else ORG_UNIT
            key = user_id if user_id is not None else unit_id
            row = conn.execute(select(table.c.digest_hour, table.c.timezone).where(table.c.id == key)).first()
        if row is None:
            return None, self._zone
        return row.digest_hour, _zone(row.timezone, self._zone)

    def _write(self, recipient: str, user_id: int | None, unit_id: int | None, now: datetime,
               since: datetime | None) -> int:
        with self._db.begin() as conn:
            if since is not None and conn.execute(
                    select(OUTBOX.c.id).where(OUTBOX.c.recipient == recipient, OUTBOX.c.kind == "digest",
                                              OUTBOX.c.created_at >= since)).first() is not None:
                return 0  # today's digest has gone already; the rest waits for tomorrow's
            held = conn.execute(select(OUTBOX).where(OUTBOX.c.recipient == recipient, OUTBOX.c.status == "held")
                                .order_by(OUTBOX.c.id).with_for_update(skip_locked=True)).all()
            if not held:
                return 0
            entries = [{"subject": row.subject,
                        "link": f"{self._public_url}/credentials/{row.credential_id}" if row.credential_id
                        else self._public_url} for row in held]
            rendered = self._renderer.render("digest", {
                "entries": entries, "role_title": "named in each update", "recipient_unit": "",
                "digest_note": "You asked for one summary a day.", "link": self._public_url})
            digest = conn.execute(insert(OUTBOX), {
                "message_id": make_msgid(idstring="digest", domain=self._domain), "kind": "digest",
                "recipient": recipient, "recipient_name": held[0].recipient_name, "user_id": user_id,
                "org_unit_id": unit_id, "credential_id": None, "subject": rendered.subject,
                "text_body": rendered.text, "html_body": rendered.html, "ics": None, "status": "pending",
                "urgent": False, "digest_id": None, "attempts": 0, "next_attempt_at": now, "lease_owner": None,
                "lease_until": None, "last_error": "", "created_at": now, "sent_at": None}).inserted_primary_key
            assert digest is not None
            conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_([row.id for row in held]))
                         .values(status="digested", digest_id=int(digest[0])))
            return 1


def _zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback

