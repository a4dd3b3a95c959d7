"""A person's account: invitations and password resets by a one-time link, changing one's own password, ending
every session and token of a person at once, and their notification preferences.

A link carries 256 random bits; only its SHA-256 is stored, with its expiry (``WORKFLOW_ACCOUNT_LINK_HOURS``). It is
used once: setting the password marks it used, and a newer link for the same person replaces any older one. Setting
a password through a link, or changing it, ends the person's other sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Connection, delete, insert, select, update

from workflow.clock import Clock, LocalDays
from workflow.errors import InvalidInput, NotFound
from workflow.notify.account_mail import account_message
from workflow.notify.render import Renderer
from workflow.services.access import Caller, require_admin
from workflow.services.auth import SESSION, TOKEN, hash_password, token_hash, verify_password
from workflow.store import history
from workflow.store.database import Database
from workflow.store.people import ACCOUNT_LINK, USER

PURPOSES = {"invitation": "account_invitation", "reset": "password_reset"}


class LinkNotUsable(InvalidInput):
    """A one-time link that is unknown, used already, replaced by a newer one, expired, or whose person is no longer
    active: the page says which, in words."""

    def __init__(self, message: str) -> None:
        super().__init__("link", message)


@dataclass(frozen=True)
class LinkHolder:
    """Whom a usable link lets set a password."""

    user_id: int
    username: str
    display_name: str
    purpose: str


@dataclass(frozen=True)
class Preferences:
    """How a person wants their email: at once (``digest_hour`` None) or one digest a day, and their time zone."""

    digest_hour: int | None
    timezone: str | None


def end_access(conn: Connection, user_id: int, now: datetime, *, keep_session: str | None = None) -> None:
    """End a person's browser sessions (all but the one whose token hash is ``keep_session``); with no session kept,
    revoke their API tokens too. Inside the caller's transaction."""
    sessions = delete(SESSION).where(SESSION.c.user_id == user_id)
    if keep_session is not None:
        conn.execute(sessions.where(SESSION.c.token_hash != keep_session))
        return
    conn.execute(sessions)
    conn.execute(update(TOKEN).where(TOKEN.c.user_id == user_id, TOKEN.c.revoked_at.is_(None))
                 .values(revoked_at=now))


class AccountService:
    """One-time links, password changes and notification preferences."""

    def __init__(self, database: Database, clock: Clock, renderer: Renderer, days: LocalDays, *, public_url: str,
                 mail_domain: str, link_hours: float = 72.0) -> None:
        self._db = database
        self._clock = clock
        self._renderer = renderer
        self._days = days
        self._public_url = public_url.rstrip("/")
        self._mail_domain = mail_domain
        self._link_length = timedelta(hours=link_hours)

    def send_link(self, *, user_id: int, purpose: str, by: Caller) -> str:
        """Email a person a one-time link to set their password (administrators); returns the address it went to.

        Raises:
            InvalidInput: the person has no email address, or is not active.
        """
        require_admin(by, "send a password link")
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        with self._db.begin() as conn:
            user = conn.execute(select(USER.c.id, USER.c.username, USER.c.display_name, USER.c.email,
                                       USER.c.active).where(USER.c.id == user_id)).first()
            if user is None:
                raise NotFound("user", user_id)
            if not user.active:
                raise InvalidInput("user", f"{user.display_name} is deactivated; reactivate them first")
            if not user.email:
                raise InvalidInput("email", f"{user.display_name} has no email address to send the link to")
            # A newer link replaces the older ones: only the latest works.
            conn.execute(update(ACCOUNT_LINK).where(ACCOUNT_LINK.c.user_id == user_id,
                                                    ACCOUNT_LINK.c.used_at.is_(None)).values(used_at=now))
            expires = now + self._link_length
            conn.execute(insert(ACCOUNT_LINK), {"user_id": user_id, "purpose": purpose,
                                                "token_hash": token_hash(token), "created_by": by.username,
                                                "created_at": now, "expires_at": expires})
            history.write_messages(conn, [account_message(
                self._renderer, PURPOSES[purpose], mail_domain=self._mail_domain, user_id=user_id, email=user.email,
                name=user.display_name, now=now,
                context={"username": user.username, "link": f"{self._public_url}/password/{token}",
                         "expires": self._days.local(expires).strftime("%Y-%m-%d %H:%M %Z"),
                         "sent_by": by.display_name})])
        return str(user.email)

    def link_holder(self, token: str) -> LinkHolder:
        """Whom a link lets set a password, if it can still be used.

        Raises:
            LinkNotUsable: saying why not.
        """
        with self._db.begin_read() as conn:
            return self._holder(conn, token)

    def use_link(self, *, token: str, password: str) -> LinkHolder:
        """Set the password a link allows, once; every session the person had ends.

        Raises:
            LinkNotUsable: the link cannot be used (nothing changes).
            InvalidInput: the password breaks the password rules (the link stays usable).
        """
        known = self.link_holder(token)  # an unusable link is said before anything about the password
        hashed = hash_password(password, username=known.username)
        now = self._clock.now()
        with self._db.begin() as conn:
            holder = self._holder(conn, token)
            marked = conn.execute(update(ACCOUNT_LINK).where(ACCOUNT_LINK.c.token_hash == token_hash(token),
                                                             ACCOUNT_LINK.c.used_at.is_(None)).values(used_at=now))
            if marked.rowcount != 1:  # another request used it a moment ago
                raise LinkNotUsable("this link has been used already; ask an administrator for a new one")
            conn.execute(update(USER).where(USER.c.id == holder.user_id).values(password_hash=hashed))
            conn.execute(delete(SESSION).where(SESSION.c.user_id == holder.user_id))
        return holder

    def _holder(self, conn: Connection, token: str) -> LinkHolder:
        if not token or len(token) > 100:
            raise LinkNotUsable("this link is not valid; check that the whole address from the email was opened")
        row = conn.execute(select(ACCOUNT_LINK.c.purpose, ACCOUNT_LINK.c.expires_at, ACCOUNT_LINK.c.used_at,
                                  USER.c.id, USER.c.username, USER.c.display_name, USER.c.active)
                           .join(USER, USER.c.id == ACCOUNT_LINK.c.user_id)
                           .where(ACCOUNT_LINK.c.token_hash == token_hash(token))).first()
        if row is None:
            raise LinkNotUsable("this link is not valid; check that the whole address from the email was opened")
        if row.used_at is not None:
            raise LinkNotUsable("this link has been used already (or a newer one was sent); ask an administrator "
                                "for a new one")
        if row.expires_at <= self._clock.now():
            raise LinkNotUsable(f"this link expired on {self._days.local(row.expires_at).strftime('%Y-%m-%d %H:%M %Z')}"
                                "; ask an administrator for a new one")
        if not row.active:
            raise LinkNotUsable("this account is deactivated; ask an administrator")
        return LinkHolder(int(row.id), row.username, row.display_name, row.purpose)

    def change_password(self, *, user_id: int, current: str, new: str, session_token: str | None = None) -> None:
        """Change one's own password, giving the current one; other sessions end (the one given stays open).

        Raises:
            InvalidInput: ``current`` is wrong, or ``new`` breaks the password rules.
        """
        if not current:
            raise InvalidInput("current", "give your current password")
        with self._db.begin_read() as conn:
            row = conn.execute(select(USER.c.password_hash, USER.c.username).where(USER.c.id == user_id)).first()
        if row is None or not verify_password(row.password_hash, current):
            raise InvalidInput("current", "this is not your current password")
        if new == current:
            raise InvalidInput("password", "choose a password different from the current one")
        hashed = hash_password(new, username=row.username)
        with self._db.begin() as conn:
            if conn.execute(update(USER).where(USER.c.id == user_id).values(password_hash=hashed)).rowcount != 1:
                raise NotFound("user", user_id)
            end_access(conn, user_id, self._clock.now(),
                       keep_session=token_hash(session_token) if session_token else "")

    def preferences(self, user_id: int) -> Preferences:
        """A person's notification preferences."""
        with self._db.begin_read() as conn:
            row = conn.execute(select(USER.c.digest_hour, USER.c.timezone).where(USER.c.id == user_id)).first()
        if row is None:
            raise NotFound("user", user_id)
        return Preferences(row.digest_hour, row.timezone)

    def set_preferences(self, *, user_id: int, digest_hour: int | None, timezone: str | None) -> None:
        """Email at once (``digest_hour`` None) or in one digest a day at that local hour, in ``timezone`` (None: the
        institution's).

        Raises:
            InvalidInput: an hour outside 0–23, or a time zone that is not an IANA name.
        """
        if digest_hour is not None and not 0 <= digest_hour <= 23:
            raise InvalidInput("digest_hour", "choose an hour from 0 to 23")
        if timezone:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InvalidInput("timezone", f"'{timezone[:60]}' is not a time zone; use a name such as "
                                               "America/Toronto") from None
        with self._db.begin() as conn:
            if conn.execute(update(USER).where(USER.c.id == user_id)
                            .values(digest_hour=digest_hour, timezone=timezone or None)).rowcount != 1:
                raise NotFound("user", user_id)


def time_zones() -> list[str]:
    """Every IANA time zone name, sorted (for a form's choices)."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
