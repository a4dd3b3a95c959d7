"""Fixtures for email notifications: a real SMTP server on a free local port, services that send to it, and the
test organisation with a mailbox for everyone (<username>@test.example)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS, ROOT
from tests.notify.mailing import MailServer, free_port, load_org, smtp_settings
from workflow.config import Settings
from workflow.context import Services


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mail: MailServer) -> Settings:
    """The shared settings, sending to the local SMTP server."""
    base = Settings(environment="test", database_url=database_url, data_dir=tmp_path / "data",
                    definitions_dir=DEFINITIONS, notifications_dir=ROOT / "notifications", scheduler_in_app=False)
    return smtp_settings(base, mail.port)


@pytest.fixture
def org(services: Services) -> Services:
    """The services with the test organisation of tests/web loaded."""
    return load_org(services)
