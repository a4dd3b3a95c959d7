"""The transactional outbox: who gets which message, rendered and written in the caller's transaction.

A message is addressed to the people who hold a role on the credential (an org unit above it, or the credential
itself), to departments whose shared inbox handles that role, and — for decisions — to anyone deciding in a
holder's place today. Each row gets its Message-ID once, here; people and departments who asked for a daily
digest have their messages held for it, except reminders and escalations, which always go at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.utils import make_msgid
from typing import Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, insert, or_, select

from workflow.definitions.model import Definition
from workflow.notify.calendar import CalendarEntry, calendar
from workflow.notify.render import Renderer
from workflow.services.access import ASSIGNMENT, DELEGATION, ORG_UNIT, USER, OrgTree
from workflow.store.tables import OUTBOX

URGENT = frozenset({"reminder", "escalation"})


@dataclass(frozen=True)
class Recipient:
    """Where one message goes, and how that person or inbox likes their mail. ``roles`` are all the roles the
    message concerns them in (one message even for someone holding several)."""

    email: str
    name: str
    roles: tuple[str, ...]
    user_id: int | None = None
    unit_id: int | None = None
    unit_name: str = ""
    digest_hour: int | None = None
    on_behalf_of: str | None = None


@dataclass(frozen=True)
class CredentialRef:
    """The credential a message is about."""

    id: int
    title: str
    state: str
    org_unit_id: int | None


@dataclass
class Notice:
    """One kind of message to the holders of some roles, with what the templates need."""

    kind: str
    roles: Sequence[str]
    context: dict[str, Any] = field(default_factory=dict)
    per_role: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # extra context for each role
    entries: Sequence[CalendarEntry] = ()
    delegates: bool = False  # also those deciding in a role holder's place today


class Notifier:
    """Writes rendered messages into the outbox, inside the transaction of the change that causes them."""

    def __init__(self, renderer: Renderer, *, public_url: str, mail_domain: str) -> None:
        self.renderer = renderer
        self.public_url = public_url.rstrip("/")
        self.mail_domain = mail_domain

    def link(self, credential_id: int) -> str:
        """The credential's page."""
        return f"{self.public_url}/credentials/{credential_id}"

    def enqueue(self, conn: Connection, notice: Notice, credential: CredentialRef, definition: Definition,
                tree: OrgTree, now: datetime) -> int:
        """Address, render and store ``notice``; returns how many messages were written."""
        if not notice.roles:
            return 0
        recipients = resolve(conn, notice.roles, credential, tree, now.date(), delegates=notice.delegates)
        rows = []
        for recipient in recipients:
            titles = [definition.roles[r].title if r in definition.roles else r for r in recipient.roles]
            context = {
                "credential": {"id": credential.id, "title": credential.title, "state": credential.state},
                "link": self.link(credential.id), "role": recipient.roles[0],
                "role_title": " and ".join(titles), "recipient_unit": recipient.unit_name,
                "digest_note": "", "on_behalf_of": recipient.on_behalf_of,
                **notice.context, **_merged(notice.per_role, recipient.roles),
            }
            rendered = self.renderer.render(notice.kind, context)
            held = recipient.digest_hour is not None and notice.kind not in URGENT
            rows.append({
                "message_id": make_msgid(idstring=notice.kind, domain=self.mail_domain), "kind": notice.kind,
                "recipient": recipient.email, "recipient_name": recipient.name, "user_id": recipient.user_id,
                "org_unit_id": recipient.unit_id, "credential_id": credential.id, "subject": rendered.subject,
                "text_body": rendered.text, "html_body": rendered.html,
                "ics": calendar(notice.entries, stamp=now) if notice.entries else None,
                "status": "held" if held else "pending", "urgent": notice.kind in URGENT, "digest_id": None,
                "attempts": 0, "next_attempt_at": now, "lease_owner": None, "lease_until": None, "last_error": "",
                "created_at": now, "sent_at": None,
            })
        if rows:
            conn.execute(insert(OUTBOX), rows)
        return len(rows)


def _merged(per_role: Mapping[str, dict[str, Any]], roles: Sequence[str]) -> dict[str, Any]:
    """The extra context of several roles together: lists (such as checklist items) are joined."""
    merged: dict[str, Any] = {}
    for role in roles:
        for key, value in per_role.get(role, {}).items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = merged[key] + value
            else:
                merged.setdefault(key, value)
    return merged


_ROLES: BindParameter[Any] = bindparam("roles", expanding=True)
_UNITS: BindParameter[Any] = bindparam("units", expanding=True)
_HOLDERS = (select(ASSIGNMENT.c.role, USER.c.id, USER.c.username, USER.c.display_name, USER.c.email,
                   USER.c.digest_hour)
            .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
            .where(ASSIGNMENT.c.role.in_(_ROLES), USER.c.active.is_(True),
                   or_(ASSIGNMENT.c.credential_id == bindparam("cid"), ASSIGNMENT.c.org_unit_id.in_(_UNITS)))
            .order_by(ASSIGNMENT.c.role, USER.c.username))
_ACTING = (select(USER.c.id, USER.c.display_name, USER.c.email, USER.c.digest_hour, DELEGATION.c.from_user_id)
           .join(DELEGATION, DELEGATION.c.to_user_id == USER.c.id)
           .where(DELEGATION.c.from_user_id.in_(bindparam("givers", expanding=True)),
                  DELEGATION.c.revoked_at.is_(None), DELEGATION.c.starts_on <= bindparam("today"),
                  DELEGATION.c.ends_on >= bindparam("today"), USER.c.active.is_(True),
                  or_(DELEGATION.c.role.is_(None), DELEGATION.c.role == bindparam("role"))))
_INBOXES = (select(ORG_UNIT.c.id, ORG_UNIT.c.name, ORG_UNIT.c.email, ORG_UNIT.c.handles, ORG_UNIT.c.digest_hour)
            .where(ORG_UNIT.c.email.isnot(None), ORG_UNIT.c.email != "",
                   or_(ORG_UNIT.c.id.in_(_UNITS), and_(ORG_UNIT.c.parent_id.isnot(None),
                                                       ORG_UNIT.c.parent_id.in_(_UNITS))))
            .order_by(ORG_UNIT.c.id))


def resolve(conn: Connection, roles: Iterable[str], credential: CredentialRef, tree: OrgTree, today: date, *,
            delegates: bool = False) -> list[Recipient]:
    """The people and department inboxes to write to about ``credential`` for ``roles`` (one message each)."""
    roles = list(dict.fromkeys(roles))
    above = sorted(tree.ancestors.get(credential.org_unit_id, frozenset())) if credential.org_unit_id else []
    holders = conn.execute(_HOLDERS, {"roles": roles, "cid": credential.id, "units": above}).all()
    found: dict[str, Recipient] = {}

    def add(recipient: Recipient) -> None:
        if not recipient.email:
            return
        known = found.get(recipient.email)
        if known is None:
            found[recipient.email] = recipient
        elif recipient.roles[0] not in known.roles:  # one message, in every role it concerns them
            found[recipient.email] = replace(known, roles=(*known.roles, *recipient.roles))

    names = {h.id: h.username for h in holders}
    for role in roles:
        givers = [h.id for h in holders if h.role == role]
        for h in (h for h in holders if h.role == role):
            add(Recipient(h.email, h.display_name, (role,), user_id=h.id, digest_hour=h.digest_hour))
        if delegates and givers:
            for a in conn.execute(_ACTING, {"givers": givers, "today": today, "role": role}):
                add(Recipient(a.email, a.display_name, (role,), user_id=a.id, digest_hour=a.digest_hour,
                              on_behalf_of=names.get(a.from_user_id)))
    if above:
        for role in roles:
            for unit in conn.execute(_INBOXES, {"units": above}):
                if role in (unit.handles or []):
                    add(Recipient(unit.email, unit.name, (role,), unit_id=unit.id, unit_name=unit.name,
                                  digest_hour=unit.digest_hour))
    return list(found.values())
