"""The emails about a person's account (an invitation to a new account, a password reset link): rendered like every
notification and written to the outbox as one row for one person, with no credential."""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid
from typing import Any

from workflow.notify.render import Renderer


def account_message(renderer: Renderer, kind: str, *, mail_domain: str, user_id: int, email: str, name: str,
                    context: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The outbox row of one account email (urgent: never held for a digest)."""
    message = renderer.render(kind, {"name": name, **context})
    return {
        "message_id": make_msgid(idstring=kind, domain=mail_domain), "kind": kind, "recipient": email,
        "recipient_name": name, "user_id": user_id, "org_unit_id": None, "credential_id": None,
        "subject": message.subject, "text_body": message.text, "html_body": message.html, "ics": None,
        "status": "pending", "urgent": True, "digest_id": None, "attempts": 0, "next_attempt_at": now,
        "lease_owner": None, "lease_until": None, "last_error": "", "created_at": now, "sent_at": None,
    }
