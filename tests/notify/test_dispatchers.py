"""Several dispatchers over one outbox: each message is sent once, and a dispatcher that dies with messages claimed
does not lose them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import settings_for
from tests.notify.mailing import ENGAGEMENT, MailServer, create, outbox, smtp_settings
from tests.organisation import load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.notify.dispatch import Dispatcher


@pytest.fixture
def pg_org(pg_url: str, tmp_path: Path, mail: MailServer, clock: ManualClock) -> Iterator[Services]:
    services = Services.start(smtp_settings(settings_for(pg_url, tmp_path / "data"), mail.port), clock)
    try:
        load_org(services)
        yield load_org(services, ENGAGEMENT)
    finally:
        services.close()


def dispatcher(services: Services, clock: ManualClock, owner: str) -> Dispatcher:
    return Dispatcher(services.database, clock, services.dispatcher.sender, owner=owner,
                      max_attempts=services.settings.outbox_max_attempts, backoff_seconds=1)


@pytest.mark.postgres
def test_two_dispatchers_send_every_message_once(pg_org: Services, mail: MailServer, clock: ManualClock) -> None:
    for n in range(60):
        create(pg_org, f"Credential {n}")
    expected = {row.message_id for row in outbox(pg_org)}
    assert len(expected) == 240

    pair = [dispatcher(pg_org, clock, "one"), dispatcher(pg_org, clock, "two")]
    start = threading.Barrier(len(pair))
    sent: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(d: Dispatcher) -> None:
        try:
            start.wait(timeout=10)
            sent[d.owner] = d.run(batch=5)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(d,)) for d in pair]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)

    ids = Counter(mail.message_ids())
    assert set(ids) == expected
    assert max(ids.values()) == 1, [m for m, n in ids.items() if n > 1]
    assert sum(sent.values()) == 240
    assert sent["one"] > 0 and sent["two"] > 0, sent
    rows = outbox(pg_org)
    assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {1}
    assert {row.lease_owner for row in rows} == {None}


def test_messages_claimed_by_a_dispatcher_that_died_are_sent_after_its_lease(org: Services, mail: MailServer,
                                                                             clock: ManualClock) -> None:
    create(org, "Supply-chain analytics")
    rows = outbox(org)
    dead = Dispatcher(org.database, clock, org.dispatcher.sender, owner="crashed", lease_seconds=60)
    claimed = dead.claim(10)  # ... and then it is killed before sending anything
    assert len(claimed) == len(rows) == 3
    assert {row.status for row in outbox(org)} == {"sending"}

    assert org.dispatcher.run() == 0  # the lease still holds
    assert mail.received == []
    clock.advance(timedelta(seconds=61))
    assert org.dispatcher.run() == 3
    assert sorted(mail.message_ids()) == sorted(row.message_id for row in rows)
    after = outbox(org)
    assert {row.status for row in after} == {"sent"} and {row.attempts for row in after} == {2}
