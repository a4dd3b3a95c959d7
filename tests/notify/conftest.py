"""Fixtures for email notifications: a real SMTP server on a free local port, and the shared settings sending to it
(the test organisation, from tests/conftest.py, gives everyone a mailbox: <username>@test.example)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.mailing import MailServer, smtp_settings
from tests.serving import free_port
from workflow.config import Settings


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(settings: Settings, mail: MailServer) -> Settings:
    """The shared settings, sending to the local SMTP server."""
    return smtp_settings(settings, mail.port)
