"""Daily digests: an inbox that asked for one summary a day gets its updates held and sent together at its local
hour, once a day, while reminders still go out at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.notify.mailing import MailServer, create, deliver, outbox, override
from tests.organisation import load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.store.people import ORG_UNIT

INBOX = "quality@test.example"


def quality_office(digest_hour: int | None) -> str:
    hour = "" if digest_hour is None else f", digest_hour: {digest_hour}, timezone: America/Toronto"
    return f"""
units:
  - {{key: quality, name: Quality office, kind: department, parent: northern, email: {INBOX},
     handles: [qa_office]{hour}}}
"""


def to_feasibility(services: Services, title: str) -> int:
    """A new credential moved on to feasibility, where the quality office owns an item."""
    credential_id = create(services, title)
    override(services, credential_id, "submit_for_feasibility")
    return credential_id


def test_held_updates_go_out_as_one_digest_at_the_local_hour_and_reminders_do_not_wait(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    load_org(org, quality_office(None))
    clock.set(datetime(2026, 7, 3, 13, 0, tzinfo=UTC))  # 60 days before 1 September, 13:00 UTC
    pilot = create(org, "Governance pilot")
    override(org, pilot, "submit_for_feasibility", "approve_feasibility", "complete_design")  # in build
    before = deliver(org, mail)[INBOX]  # without a digest hour, the inbox gets each message at once
    assert {m.row.kind for m in before} == {"item_assigned", "decision_needed"}

    load_org(org, quality_office(8))  # from now on: one summary a day at 08:00 in Toronto
    clock.set(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))  # 05:00 in Toronto
    titles = [f"Credential {n:02d}" for n in range(30)]
    for title in titles:
        to_feasibility(org, title)
    held = outbox(org, recipient=INBOX, status="held")
    assert len(held) == 30 and {row.kind for row in held} == {"item_assigned"}
    assert INBOX not in deliver(org, mail)  # the others get theirs; the inbox waits

    assert org.digests.run() == 0
    clock.set(datetime(2026, 9, 1, 11, 59, tzinfo=UTC))  # 07:59 in Toronto
    assert org.digests.run() == 0
    assert INBOX not in deliver(org, mail)
    assert len(outbox(org, recipient=INBOX, status="held")) == 30

    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))  # 08:00 in Toronto
    assert org.digests.run() == 1
    found = deliver(org, mail)
    assert set(found) == {INBOX}
    [digest] = found[INBOX]
    assert digest.subject == "Your daily summary: 30 updates"
    assert digest.row.kind == "digest"
    for row in held:
        assert row.subject in digest.text and row.subject in digest.html
    for title in titles:
        assert f"1 checklist item for {title}" in digest.text
    assert "You asked for one summary a day." in digest.html
    held_ids = {row.id for row in held}
    assert {(row.status, row.digest_id) for row in outbox(org, recipient=INBOX) if row.id in held_ids} == {
        ("digested", digest.row.id)}
    assert org.digests.run() == 0

    clock.set(datetime(2026, 9, 1, 13, 0, tzinfo=UTC))  # the pilot's sign-off has waited 60 days
    assert org.timers.run_due() >= 1
    [reminder] = outbox(org, recipient=INBOX, kind="reminder")
    assert reminder.status == "pending" and reminder.urgent
    found = deliver(org, mail)
    [alone] = found[INBOX]
    assert alone.subject == "Reminder: Governance sign-off waiting — Governance pilot"

    late = to_feasibility(org, "Late arrival")  # held for tomorrow: today's digest has gone
    assert org.digests.run() == 0
    clock.set(datetime(2026, 9, 1, 23, 59, tzinfo=UTC))
    assert org.digests.run() == 0
    assert INBOX not in deliver(org, mail)
    [waiting] = outbox(org, recipient=INBOX, status="held")
    assert waiting.credential_id == late

    clock.set(datetime(2026, 9, 2, 11, 0, tzinfo=UTC))  # 07:00 the next day in Toronto
    assert org.digests.run() == 0
    clock.set(datetime(2026, 9, 2, 12, 30, tzinfo=UTC))
    assert org.digests.run() == 1
    [tomorrow] = deliver(org, mail)[INBOX]
    assert tomorrow.subject == "Your daily summary: 1 update"
    assert "1 checklist item for Late arrival" in tomorrow.text


def test_a_digest_at_midnight_is_still_sent_once_a_day(org: Services, mail: MailServer,
                                                       clock: ManualClock) -> None:
    load_org(org, quality_office(0))  # one summary a day at 00:00 in Toronto
    to_feasibility(org, "Morning credential")  # 05:00 in Toronto
    assert org.digests.run() == 1
    [first] = deliver(org, mail)[INBOX]
    assert first.subject == "Your daily summary: 1 update"

    clock.advance(timedelta(hours=3))
    to_feasibility(org, "Noon credential")
    assert outbox(org, recipient=INBOX, status="held") != []
    assert org.digests.run() == 0  # today's digest went this morning; this one waits for tomorrow
    assert INBOX not in deliver(org, mail)


def test_removing_the_digest_hour_releases_what_was_held(org: Services, mail: MailServer,
                                                         clock: ManualClock) -> None:
    load_org(org, quality_office(8))
    to_feasibility(org, "Held credential")
    assert len(outbox(org, recipient=INBOX, status="held")) == 1
    with org.database.begin() as conn:
        conn.execute(update(ORG_UNIT).where(ORG_UNIT.c.email == INBOX).values(digest_hour=None))
    assert org.digests.run() == 1  # at 05:00 in Toronto: no longer waits for 08:00
    [digest] = deliver(org, mail)[INBOX]
    assert "1 checklist item for Held credential" in digest.text
