"""Sending over SMTP (plain, STARTTLS or TLS, with a login when configured), and telling a permanent refusal
(a 5xx reply) from a temporary one (4xx, or the server not answering)."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, Literal


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send."""

    host: str
    port: int = 587
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "workflow@localhost"
    timeout: float = 30.0


class DeliveryFailed(Exception):
    """A message was not accepted; ``permanent`` when retrying cannot help (the server said 5xx)."""

    def __init__(self, reply: str, *, permanent: bool) -> None:
        self.reply = reply[:2000]
        self.permanent = permanent
        super().__init__(self.reply)


class Unreachable(DeliveryFailed):
    """The mail server gave no answer about any message: it could not be reached (refused, timed out, unknown
    host), the TLS handshake or the login failed, or the connection dropped. No message is to blame, so no
    message's attempts are spent; ``reason`` says it in a few words ("connection refused to smtp.example:587")."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason, permanent=False)


def _reason(error: BaseException) -> str:
    """A few words for why a connection failed."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "unknown host"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return "TLS handshake failed"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return "login refused"
    if isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError):
        return "connection closed"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"server refused the connection ({error.smtp_code})"
    return "cannot connect"


def build_message(row: Any, sender: str) -> EmailMessage:
    """The email for an outbox row: text and HTML alternatives, and the calendar entry if there is one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((row.recipient_name, row.recipient)) if row.recipient_name else row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = formatdate(row.created_at.timestamp(), usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    if row.ics:
        message.add_attachment(row.ics.encode("utf-8"), maintype="text", subtype="calendar",
                               filename="invite.ics", params={"method": "PUBLISH"})
    return message


class SmtpSender:
    """One connection per batch of messages."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def open(self) -> smtplib.SMTP:
        """Connect (and log in) to the server.

        Raises:
            Unreachable: when the server cannot be reached, the TLS handshake fails or the login is refused.
        """
        s = self.settings
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
            return client
        except (OSError, smtplib.SMTPException) as error:
            raise Unreachable(f"{_reason(error)} to {s.host}:{s.port}", str(error)) from error

    def send(self, client: smtplib.SMTP, message: EmailMessage) -> None:
        """Send one message on an open connection.

        Raises:
            DeliveryFailed: permanent for a 5xx reply, temporary for a 4xx one.
            Unreachable: when the connection drops or times out before the server answers.
        """
        try:
            refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise DeliveryFailed(f"{code} {reply.decode(errors='replace')}", permanent=500 <= code < 600) from error
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) \
                else str(error.smtp_error)
            raise DeliveryFailed(f"{error.smtp_code} {text}", permanent=500 <= error.smtp_code < 600) from error
        except (OSError, smtplib.SMTPException) as error:
            raise Unreachable(f"{_reason(error)} by {self.settings.host}:{self.settings.port}", str(error)) \
                from error
        if refused:
            code, reply = next(iter(refused.values()))
            raise DeliveryFailed(f"{code} {reply.decode(errors='replace')}", permanent=500 <= code < 600)
