"""When the mail server is down nothing is lost and nothing is sent twice; a refusal ends a message as dead with the
server's reply, until an administrator retries it."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from datetime import timedelta

import pytest

from tests.notify.mailing import ENGAGEMENT, MailServer, create, deliver, message_id, outbox, person, web_clients
from tests.organisation import as_person, load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict
from workflow.notify.dispatch import Dispatcher
from workflow.notify.health import read_health
from workflow.notify.smtp import SmtpSender, SmtpSettings


def test_a_three_hour_outage_delays_every_message_spends_no_attempt_and_is_shown_to_administrators(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    load_org(org, ENGAGEMENT)  # four recipients per new credential: lead, engagement lead, SME, partnerships inbox
    mail.stop()  # nothing listens on the port: every connection is refused
    for n in range(50):
        create(org, f"Credential {n}")
    assert len(outbox(org)) == 200 and {row.status for row in outbox(org)} == {"pending"}
    browser, api = web_clients(org, "admin")
    started = clock.now()  # 09:00 UTC, 05:00 in Toronto
    banner = (f"Email has not been delivered since 05:00 (connection refused to 127.0.0.1:{mail.port}); "
              "200 messages are waiting.")

    probes_at = []
    step = timedelta(minutes=5)
    while clock.now() < started + timedelta(hours=3):
        before = probes(org)
        assert org.dispatcher.run() == 0
        if probes(org) > before:
            probes_at.append(clock.now() - started)
        assert probes(org) - before <= 1  # one connection for the whole queue, not one per message or batch
        rows = outbox(org)
        assert {(row.status, row.attempts) for row in rows} == {("pending", 0)}  # no attempt spent, none dead
        health = api.get("/api/v1/admin/mail-health").json()
        assert health["failing"] and health["waiting"] == 200 and health["dead"] == 0
        assert health["failing_since"] == "2026-09-01T09:00:00Z"
        assert health["last_error"] == f"connection refused to 127.0.0.1:{mail.port}"
        page = browser.get("/admin/outbox").text
        late = clock.now() - started > timedelta(minutes=10)
        assert health["alert"] is late and (banner in page) is late, clock.now()
        assert (banner in browser.get("/tasks").text) is late  # on every page
        clock.advance(step)
    assert mail.received == []
    assert "Email has not been delivered" not in web_clients(org, "pm.business")[0].get("/tasks").text  # admins only
    # the wait doubles from 1 s (the test settings: 1, 2, 4 ... 512 s, each shorter than a step until 512 s) to the
    # 15-minute cap, then one probe every 15 minutes
    assert probes_at == [timedelta(minutes=m) for m in [*range(0, 50, 5), 55, 70, 85, 100, 115, 130, 145, 160, 175]]

    mail.start()  # the mail server is back
    sent = 0
    while sent < 200 and clock.now() < started + timedelta(hours=4):
        sent += org.dispatcher.run()
        clock.advance(step)
    ids = Counter(mail.message_ids())
    assert sent == 200 and len(ids) == 200 and max(ids.values()) == 1  # each message exactly once
    rows = outbox(org)
    assert set(ids) == {row.message_id for row in rows}
    assert {(row.status, row.attempts, row.last_error) for row in rows} == {("sent", 1, "")}  # 0 dead
    health = api.get("/api/v1/admin/mail-health").json()
    assert not health["failing"] and not health["alert"] and health["waiting"] == 0
    assert health["last_success_at"] is not None
    assert "Email has not been delivered" not in browser.get("/admin/outbox").text
    clock.advance(timedelta(hours=1))
    assert org.dispatcher.run() == 0 and len(mail.received) == 200


def probes(services: Services) -> int:
    """How many connections the dispatchers tried and failed in a row (the recorded mail health)."""
    with services.database.begin_read() as conn:
        return read_health(conn).probes


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


def test_a_server_that_hangs_up_is_tried_once_per_backoff_step_for_the_whole_queue(
        org: Services, clock: ManualClock) -> None:
    load_org(org, ENGAGEMENT)
    for n in range(25):
        create(org, f"Credential {n}")  # 100 messages: two batches of 50
    with HangingUp() as server:  # accepts connections and closes them without a word of SMTP
        sender = SmtpSender(SmtpSettings(host="127.0.0.1", port=server.port, security="none"))
        dispatcher = Dispatcher(org.database, clock, sender, backoff_seconds=60, unreachable_max_backoff_seconds=900)
        waits = []
        for _ in range(6):
            before = server.connections
            assert dispatcher.run() == 0 and server.connections == before + 1  # one connection, not one per batch
            assert dispatcher.run() == 0 and server.connections == before + 1  # and none before the next step
            with org.database.begin_read() as conn:
                health = read_health(conn)
            assert health.last_error == f"connection closed to 127.0.0.1:{server.port}"
            assert health.next_probe_at is not None
            waits.append(health.next_probe_at - clock.now())
            clock.set(health.next_probe_at)
        assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480, 900, 900)]
    assert {(row.status, row.attempts) for row in outbox(org)} == {("pending", 0)}


def test_refusals_after_an_outage_still_spend_attempts(org: Services, mail: MailServer, clock: ManualClock) -> None:
    mail.box.refuse[person("sme")] = "550 5.1.1 <sme@test.example>: mailbox unavailable"
    mail.box.refuse[person("engage")] = "451 4.3.0 try again later"
    mail.stop()
    create(org, "Supply-chain analytics")
    for _ in range(5):
        assert org.dispatcher.run() == 0
        clock.advance(timedelta(minutes=15))
    assert {row.attempts for row in outbox(org)} == {0}  # the outage cost nothing
    mail.start()
    assert org.dispatcher.run() == 1
    rows = {row.recipient: row for row in outbox(org)}
    assert (rows[person("pm.business")].status, rows[person("pm.business")].attempts) == ("sent", 1)
    assert (rows[person("sme")].status, rows[person("sme")].attempts) == ("dead", 1)  # the server said no for good
    assert (rows[person("engage")].status, rows[person("engage")].attempts) == ("pending", 1)  # and "later"


def test_a_server_that_hangs_up_mid_batch_spends_the_attempt_of_the_message_it_answered_only(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    mail.box.refuse[person("engage")] = "421 4.3.2 service shutting down"  # an answer, then the line goes dead
    create(org, "Supply-chain analytics")
    assert org.dispatcher.run() == 1
    rows = {row.recipient: row for row in outbox(org)}
    assert (rows[person("pm.business")].status, rows[person("pm.business")].attempts) == ("sent", 1)
    assert (rows[person("engage")].status, rows[person("engage")].attempts) == ("pending", 1)
    unanswered = rows[person("sme")]
    assert (unanswered.status, unanswered.attempts, unanswered.lease_owner) == ("pending", 0, None)
    assert unanswered.last_error.startswith(f"connection closed by 127.0.0.1:{mail.port}")
    with org.database.begin_read() as conn:
        health = read_health(conn)
    assert health.failing_since == clock.now() and health.next_probe_at == clock.now() + timedelta(seconds=1)

    del mail.box.refuse[person("engage")]
    clock.advance(timedelta(seconds=2))
    assert org.dispatcher.run() == 2
    rows = {row.recipient: row for row in outbox(org)}
    assert {r: (row.status, row.attempts) for r, row in rows.items()} == {
        person("pm.business"): ("sent", 1), person("engage"): ("sent", 2), person("sme"): ("sent", 1)}
    with org.database.begin_read() as conn:
        assert read_health(conn).failing_since is None


class HangingUp:
    """A TCP server on a free local port that counts the connections it accepts and closes each at once."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed: the test is over
                return
            self.connections += 1
            connection.close()

    def __enter__(self) -> HangingUp:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._socket.close()
        self._thread.join(timeout=5)
