"""An administrator in a real browser during a mail outage: every page says so, and the dead messages of one kind
come back from the outbox page in one action — on a laptop and on a phone, with an accessibility check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.notify.conftest import mail, settings  # noqa: F401  (fixtures: a real SMTP server, settings sending to it)
from tests.notify.mailing import MailServer, create, outbox
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.clock import ManualClock
from workflow.context import Services

OpenPage = Callable[..., Page]


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_an_administrator_sees_the_outage_and_retries_the_dead_messages_of_one_kind(
        org: Services, mail: MailServer, clock: ManualClock, open_page: OpenPage,  # noqa: F811
        viewport: tuple[int, int]) -> None:
    for n in range(2):
        create(org, f"Credential {n}")
    for row in outbox(org):
        mail.box.refuse[row.recipient] = "550 5.1.1 mailbox unavailable"
    org.dispatcher.run()
    dead = {row.id for row in outbox(org, status="dead")}
    assert len(dead) == 6
    mail.stop()
    create(org, "Credential 2")  # three messages that cannot go out: the server does not answer
    org.dispatcher.run()
    clock.advance(timedelta(minutes=11))
    org.dispatcher.run()
    name = "laptop" if viewport[0] > 1000 else "phone"

    page = open_page(viewport=viewport)
    sign_in(page, "admin", "/admin/outbox?status=dead")
    alert = page.get_by_test_id("mail-alert")
    expect(alert).to_have_text(f"Email has not been delivered since 05:00 (connection refused to 127.0.0.1:"
                               f"{mail.port}); 3 messages are waiting. Email outbox")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    assert axe_violations(page) == []
    screenshot(page, f"mail-outage-outbox-{name}")

    page.get_by_label("Kind").select_option(label="Checklist item assigned")
    page.get_by_role("button", name="Count the messages").click()
    expect(page.get_by_test_id("retry-count")).to_contain_text(
        "6 dead messages of kind “Checklist item assigned” will be sent again.")
    assert axe_violations(page) == []
    screenshot(page, f"mail-outage-retry-confirm-{name}")
    page.get_by_role("button", name="Retry 6 messages").click()
    expect(page.get_by_role("status")).to_have_text("The chosen messages will be sent again.")
    assert {row.id for row in outbox(org, status="pending")} >= dead
    assert outbox(org, status="dead") == []
