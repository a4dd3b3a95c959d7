"""Helpers for the email tests: a real SMTP server (aiosmtpd) on a fixed local port that can be stopped and started,
reading delivered messages against their outbox rows, and the credentials the tests use."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select

from tests.organisation import as_person
from tests.web.pages import sign_in
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.store.tables import OUTBOX
from workflow.web.app import create_app

SYSTEM = Caller.system("tests")


@dataclass
class Received:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it accepts; refuses the addresses in ``refuse`` with the reply given."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


def message_id(message: EmailMessage) -> str:
    """The Message-ID header's value (a long one is folded onto a continuation line, which the parser keeps)."""
    return str(message["Message-ID"]).strip()


class MailServer:
    """A local SMTP server on a fixed port that can be stopped (nothing listening) and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.box = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(self.box, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test")
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            controller.stop()

    # -- what arrived ---------------------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self.box.lock:
            return list(self.box.received)

    def clear(self) -> None:
        with self.box.lock:
            self.box.received.clear()

    def to(self, address: str) -> list[EmailMessage]:
        """The messages delivered to ``address``, in the order they arrived."""
        return [r.message for r in self.received if address in r.rcpt_tos]

    def message_ids(self) -> list[str]:
        return [message_id(r.message) for r in self.received]


def smtp_settings(base: Settings, port: int) -> Settings:
    return base.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                                   "outbox_backoff_seconds": 1})


# A department inbox of the Faculty of Business for the employer engagement lead: with it, a new credential means
# four messages (the college's engagement lead holds the role for the whole college, not through this inbox).
ENGAGEMENT = """
units:
  - {key: partnerships, name: Partnerships office, kind: department, parent: business,
     email: partnerships@test.example, handles: [employer_engagement_lead]}
"""


def outbox(services: Services, **where: Any) -> list[Any]:
    """Outbox rows, oldest first, filtered by column values."""
    query = select(OUTBOX).order_by(OUTBOX.c.id)
    for column, value in where.items():
        query = query.where(OUTBOX.c[column] == value)
    with services.database.begin_read() as conn:
        return list(conn.execute(query))


def person(username: str) -> str:
    return f"{username}@test.example"


ADMIN_COMMENT = "moved on by the tests"


def create(services: Services, title: str, *, unit: str = "business", by: str = "pm.business",
           data: dict[str, Any] | None = None) -> int:
    """A new credential in ``unit``, started by ``by``."""
    return services.credentials.create(definition="microcredential", title=title, by=as_person(services, by),
                                       org_unit_id=services.people.unit_id(unit),
                                       data={"purpose": "Upskilling", "description": "A short course", **(data or {})})


def override(services: Services, credential_id: int, *triggers: str) -> None:
    """An administrator moves the credential past unmet guards, trigger by trigger."""
    admin = as_person(services, "admin")
    for trigger in triggers:
        services.credentials.override(credential_id=credential_id, trigger=trigger, comment=ADMIN_COMMENT, by=admin)


@dataclass
class Mail:
    """A delivered message as its recipient sees it, with the outbox row it came from."""

    message: EmailMessage
    row: Any
    text: str
    html: str
    ics: Calendar | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def events(self) -> list[Any]:
        return list(self.ics.walk("VEVENT")) if self.ics is not None else []


def read(message: EmailMessage, row: Any, sender: str) -> Mail:
    """Check what every message must be — headers, text and HTML alternatives — and return its parts."""
    assert message_id(message) == row.message_id
    assert str(message["Subject"]) == row.subject
    assert "\n" not in str(message["Subject"])
    assert message["Date"] is not None
    assert message["From"].addresses[0].addr_spec == sender
    to = message["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == row.recipient
    if row.recipient_name:
        assert to[0].display_name == row.recipient_name
    alternative = message if message.get_content_type() == "multipart/alternative" else next(
        part for part in message.iter_parts() if part.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert text_part is not None and html_part is not None
    attachments = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(attachments) == (1 if row.ics else 0)
    ics = Calendar.from_ical(attachments[0].get_content()) if attachments else None
    return Mail(message, row, text_part.get_content(), html_part.get_content(), ics)


def deliver(services: Services, mail: MailServer) -> dict[str, list[Mail]]:
    """Run the dispatcher; what arrived since the last delivery, by recipient (each checked against its row)."""
    services.dispatcher.run()
    rows = {row.message_id: row for row in outbox(services)}
    sender = services.settings.mail_from.split("<")[-1].rstrip(">")
    found: dict[str, list[Mail]] = {}
    for received in mail.received:
        message = received.message
        row = rows[message_id(message)]
        assert row.status == "sent", row
        assert received.rcpt_tos == [row.recipient]
        found.setdefault(row.recipient, []).append(read(message, row, sender))
    mail.clear()
    return found


def web_clients(services: Services, username: str) -> tuple[TestClient, TestClient]:
    """Over one app: a browser signed in as ``username`` (for pages) and an API client with their token."""
    browser = TestClient(create_app(services.settings, services=services), base_url="https://testserver")
    sign_in(browser, username)
    token = services.auth.create_token(services.people.user_id(username), "tests").token
    api = TestClient(browser.app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"})
    return browser, api
