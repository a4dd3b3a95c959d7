"""The transactional outbox: who gets which message, rendered inside the transaction of the action that causes
it (and written there by :func:`workflow.store.history.write_messages`).

A message is addressed to the people who hold a role on the credential (an org unit above it, or the credential
itself), to departments whose shared inbox handles that role, and — for decisions — to anyone deciding in a
holder's place today. Each row gets its Message-ID once, here; people and departments who asked for a daily
digest have their messages held for it, except reminders and escalations, which always go at once. The notices of
one action are addressed together: the people and inboxes concerned are read once, and each distinct message is
rendered once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.utils import make_msgid
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, or_, select

from workflow.clock import LocalDays
from workflow.definitions.model import Definition
from workflow.notify.calendar import CalendarEntry, calendar
from workflow.notify.render import Rendered, Renderer
from workflow.store import lookups
from workflow.store.orgtree import OrgTree
from workflow.store.people import DELEGATION, USER

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
    excluded: frozenset[tuple[str, str]] = frozenset()  # (role, username) of people who decided: not told again


@dataclass(frozen=True)
class Queued:
    """A notice of an action, with the credential as it stood and the time when the action raised it."""

    notice: Notice
    credential: CredentialRef
    now: datetime


class Notifier:
    """Addresses and renders the messages of an action, inside the transaction of the change that causes them."""

    def __init__(self, renderer: Renderer, *, public_url: str, mail_domain: str, days: LocalDays) -> None:
        self.renderer = renderer
        self.days = days  # the institution's calendar: due dates and "today" for delegations are its days
        self.public_url = public_url.rstrip("/")
        self.mail_domain = mail_domain

    def link(self, credential_id: int) -> str:
        """The credential's page."""
        return f"{self.public_url}/credentials/{credential_id}"

    def item_link(self, credential_id: int, item: str) -> str:
        """A checklist item on its credential's page (where its owners tick it)."""
        return f"{self.link(credential_id)}#item-{credential_id}-{item}"

    def messages(self, conn: Connection, queued: Sequence[Queued], definition: Definition,
                 tree: OrgTree) -> list[dict[str, Any]]:
        """The outbox rows of the notices of one action, in order: the people and inboxes concerned are looked up
        once for all of them, and a message shared by several recipients is rendered once."""
        by_credential: dict[tuple[int, int | None], list[Queued]] = {}
        for q in queued:
            if q.notice.roles:
                by_credential.setdefault((q.credential.id, q.credential.org_unit_id), []).append(q)
        directories = {where: Directory.read(conn, [r for q in group for r in q.notice.roles], group[0].credential,
                                             tree, self.days.day_of(group[0].now),
                                             delegated=[r for q in group if q.notice.delegates for r in q.notice.roles])
                       for where, group in by_credential.items()}
        rows = []
        for q in queued:
            if not q.notice.roles:
                continue
            notice, credential, now = q.notice, q.credential, q.now
            rendered: dict[tuple[tuple[str, ...], str, str | None], Rendered] = {}
            ics: str | None = None
            for recipient in directories[credential.id, credential.org_unit_id].recipients(
                    notice.roles, delegates=notice.delegates, excluded=notice.excluded):
                key = (recipient.roles, recipient.unit_name, recipient.on_behalf_of)
                message = rendered.get(key)
                if message is None:  # the same roles, inbox and principal make the same message
                    message = rendered[key] = self._render(notice, credential, recipient, definition)
                if notice.entries and ics is None:
                    ics = calendar(notice.entries, stamp=now)
                held = recipient.digest_hour is not None and notice.kind not in URGENT
                rows.append({
                    "message_id": make_msgid(idstring=notice.kind, domain=self.mail_domain), "kind": notice.kind,
                    "recipient": recipient.email, "recipient_name": recipient.name, "user_id": recipient.user_id,
                    "org_unit_id": recipient.unit_id, "credential_id": credential.id, "subject": message.subject,
                    "text_body": message.text, "html_body": message.html, "ics": ics,
                    "status": "held" if held else "pending", "urgent": notice.kind in URGENT, "digest_id": None,
                    "attempts": 0, "next_attempt_at": now, "lease_owner": None, "lease_until": None,
                    "last_error": "", "created_at": now, "sent_at": None,
                })
        return rows

    def _render(self, notice: Notice, credential: CredentialRef, recipient: Recipient,
                definition: Definition) -> Rendered:
        titles = [definition.roles[r].title if r in definition.roles else r for r in recipient.roles]
        context = {
            "credential": {"id": credential.id, "title": credential.title, "state": credential.state},
            "link": self.link(credential.id), "role": recipient.roles[0],
            "role_title": " and ".join(titles), "recipient_unit": recipient.unit_name,
            "digest_note": "", "on_behalf_of": recipient.on_behalf_of,
            **notice.context, **_merged(notice.per_role, recipient.roles),
        }
        return self.renderer.render(notice.kind, context)


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
_ACTING = (select(USER.c.id, USER.c.display_name, USER.c.email, USER.c.digest_hour, DELEGATION.c.from_user_id,
                   DELEGATION.c.role)
           .join(DELEGATION, DELEGATION.c.to_user_id == USER.c.id)
           .where(DELEGATION.c.from_user_id.in_(bindparam("givers", expanding=True)),
                  DELEGATION.c.revoked_at.is_(None), DELEGATION.c.starts_on <= bindparam("today"),
                  DELEGATION.c.ends_on >= bindparam("today"), USER.c.active.is_(True),
                  or_(DELEGATION.c.role.is_(None), DELEGATION.c.role.in_(_ROLES)))
           .order_by(DELEGATION.c.id))
@dataclass(frozen=True)
class Directory:
    """Who is concerned by one credential for some roles: the people holding them on it, the department inboxes
    above it, and the people deciding in a holder's place today — read once, however many notices use them."""

    holders: Sequence[Any]  # rows of lookups.role_holders, lookups.inboxes and _ACTING
    inboxes: Sequence[Any]
    acting: Sequence[Any] = ()

    @classmethod
    def read(cls, conn: Connection, roles: Iterable[str], credential: CredentialRef, tree: OrgTree, today: date,
             *, delegated: Iterable[str] = ()) -> Directory:
        """Everyone ``roles`` reach on ``credential``; people acting for holders of ``delegated`` roles too."""
        roles = list(dict.fromkeys(roles))
        above = sorted(tree.ancestors.get(credential.org_unit_id, frozenset())) if credential.org_unit_id else []
        holders = lookups.role_holders(conn, roles, credential.id, above)
        inboxes = lookups.inboxes(conn, above)
        acting: Sequence[Any] = ()
        asked = set(delegated)
        givers = sorted({h.id for h in holders if h.role in asked})
        if givers:
            acting = conn.execute(_ACTING, {"givers": givers, "today": today, "roles": sorted(asked)}).all()
        return cls(holders, inboxes, acting)

    def recipients(self, roles: Iterable[str], *, delegates: bool = False,
                   excluded: frozenset[tuple[str, str]] = frozenset()) -> list[Recipient]:
        """The people and department inboxes to write to for ``roles`` (one message each, whichever ways someone
        is reached). Someone holding a role for an org unit whose department inbox (at that unit or right below
        it) handles the role reads it there: they get the inbox's copy, not one of their own. People named in
        ``excluded`` in a role (and those acting for them) are left out of it."""
        roles = list(dict.fromkeys(roles))
        found: dict[str, Recipient] = {}

        def add(recipient: Recipient) -> None:
            if not recipient.email:
                return
            known = found.get(recipient.email)
            if known is None:
                found[recipient.email] = recipient
            elif recipient.roles[0] not in known.roles:  # one message, in every role it concerns them
                found[recipient.email] = replace(known, roles=(*known.roles, *recipient.roles))

        def by_inbox(holder: Any, role: str) -> bool:
            return holder.unit_id is not None and any(
                role in (unit.handles or []) and holder.unit_id in (unit.id, unit.parent_id) for unit in self.inboxes)

        names = {h.id: h.username for h in self.holders}
        for role in roles:
            givers = {h.id for h in self.holders if h.role == role}
            for h in (h for h in self.holders if h.role == role):
                if (role, h.username) not in excluded and not by_inbox(h, role):
                    add(Recipient(h.email, h.display_name, (role,), user_id=h.id, digest_hour=h.digest_hour))
            if delegates and givers:
                for a in self.acting:
                    if a.from_user_id in givers and a.role in (None, role) \
                            and (role, names.get(a.from_user_id)) not in excluded:
                        add(Recipient(a.email, a.display_name, (role,), user_id=a.id, digest_hour=a.digest_hour,
                                      on_behalf_of=names.get(a.from_user_id)))
        for role in roles:
            for unit in self.inboxes:
                if role in (unit.handles or []):
                    add(Recipient(unit.email, unit.name, (role,), unit_id=unit.id, unit_name=unit.name,
                                  digest_hour=unit.digest_hour))
        return list(found.values())
