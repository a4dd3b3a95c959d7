"""When the mail server is down nothing is lost and nothing is sent twice; a refusal ends a message as dead with the
server's reply, until an administrator retries it."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.notify.mailing import ENGAGEMENT, MailServer, create, deliver, message_id, outbox, person
from tests.organisation import as_person, load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict


def test_an_outage_delays_every_message_and_loses_none(org: Services, mail: MailServer, clock: ManualClock) -> None:
    load_org(org, ENGAGEMENT)  # four recipients per new credential: lead, engagement lead, SME, partnerships inbox
    mail.stop()  # nothing listens on the port any more
    for n in range(50):
        create(org, f"Credential {n}")
    queued = outbox(org)
    assert len(queued) == 200 and {row.status for row in queued} == {"pending"}

    assert org.dispatcher.run() == 0
    now = clock.now()
    rows = outbox(org)
    assert mail.received == []
    assert {row.status for row in rows} == {"pending"}
    assert {row.attempts for row in rows} == {1}
    for row in rows:
        assert f"cannot reach 127.0.0.1:{mail.port}" in row.last_error
        assert "refused" in row.last_error.lower()
        assert now < row.next_attempt_at <= now + timedelta(seconds=1.5)  # 1 s backoff, up to 50 % jitter
        assert row.lease_owner is None and row.sent_at is None
    assert org.dispatcher.run() == 0  # not due again yet
    assert {row.attempts for row in outbox(org)} == {1}

    mail.start()
    assert org.dispatcher.run() == 0  # the clock has not moved: still waiting out the backoff
    clock.advance(timedelta(seconds=2))
    sent = 0
    while (batch := org.dispatcher.run()) > 0:
        sent += batch
    assert sent == 200
    ids = Counter(mail.message_ids())
    assert len(ids) == 200 and max(ids.values()) == 1  # each message exactly once
    rows = outbox(org)
    assert set(ids) == {row.message_id for row in rows}
    assert {row.status for row in rows} == {"sent"}
    assert {row.attempts for row in rows} == {2}
    assert {row.last_error for row in rows} == {""}
    assert len(mail.received) == 200
    clock.advance(timedelta(hours=1))
    assert org.dispatcher.run() == 0 and len(mail.received) == 200


def test_a_refused_recipient_is_dead_at_once_and_stays_so_until_retried(org: Services, mail: MailServer,
                                                                         clock: ManualClock) -> None:
    mail.box.refuse[person("sme")] = "550 5.1.1 <sme@test.example>: mailbox unavailable"
    create(org, "Supply-chain analytics")
    found = deliver(org, mail)
    assert set(found) == {person("pm.business"), person("engage")}  # the others are not held up
    [dead] = outbox(org, recipient=person("sme"))
    assert dead.status == "dead" and dead.attempts == 1
    assert dead.last_error == "550 5.1.1 <sme@test.example>: mailbox unavailable"

    clock.advance(timedelta(days=2))
    assert org.dispatcher.run() == 0
    [still] = outbox(org, recipient=person("sme"))
    assert still.status == "dead" and still.attempts == 1
    entries, counts = org.outbox.listing(by=as_person(org, "admin"), status="dead")
    assert [e.id for e in entries] == [dead.id] and counts == {"sent": 2, "dead": 1}

    del mail.box.refuse[person("sme")]  # the address was fixed
    org.outbox.retry(dead.id, by=as_person(org, "admin"))
    [again] = outbox(org, recipient=person("sme"))
    assert again.status == "pending" and again.last_error == "" and again.next_attempt_at == clock.now()
    found = deliver(org, mail)
    assert set(found) == {person("sme")}
    assert message_id(found[person("sme")][0].message) == dead.message_id  # the same message, not a new one
    assert outbox(org, recipient=person("sme"))[0].status == "sent"
    with pytest.raises(Conflict):  # only dead messages are retried
        org.outbox.retry(dead.id, by=as_person(org, "admin"))


def test_a_temporary_refusal_is_retried_with_backoff_until_the_attempts_run_out(org: Services, mail: MailServer,
                                                                                 clock: ManualClock) -> None:
    mail.box.refuse[person("sme")] = "451 4.3.0 try again later"
    create(org, "Supply-chain analytics")
    deliver(org, mail)
    waits = []
    for attempt in range(1, org.settings.outbox_max_attempts):
        [row] = outbox(org, recipient=person("sme"))
        assert row.status == "pending" and row.attempts == attempt
        assert row.last_error == "451 4.3.0 try again later"
        waits.append((row.next_attempt_at - clock.now()).total_seconds())
        clock.set(row.next_attempt_at)
        org.dispatcher.run()
    [row] = outbox(org, recipient=person("sme"))
    assert row.status == "dead" and row.attempts == org.settings.outbox_max_attempts
    assert row.last_error == "451 4.3.0 try again later"
    assert all(2 ** n <= wait <= 1.5 * 2 ** n for n, wait in enumerate(waits))  # doubling, with jitter
    assert mail.received == []
