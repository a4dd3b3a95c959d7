"""Concurrent actions on one credential: exactly one wins, the others get a clean conflict, one history event."""

from __future__ import annotations

import threading
from collections import Counter

from workflow.context import Services
from workflow.errors import StaleVersion, TransitionNotAllowed
from workflow.services.access import Caller

THREADS = 20

SYSTEM = Caller.system("test")
as_ = Caller.system  # acting as a named person, with the system's rights


def race(services: Services, cid: int, *, expected_version: int | None) -> Counter[str]:
    barrier = threading.Barrier(THREADS)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            services.credentials.fire(credential_id=cid, trigger="hold", by=as_(f"pm{n}"),
                                      expected_version=expected_version)
            outcome = "ok"
        except StaleVersion:
            outcome = "stale"
        except TransitionNotAllowed:
            outcome = "refused"
        except Exception as error:  # anything else is a failure the assertion below will show
            outcome = f"{type(error).__name__}: {error}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(results)


def transitions_in_history(services: Services, cid: int) -> int:
    return sum(1 for event in services.views.history(cid, by=SYSTEM) if event.kind == "transition")


def test_twenty_clients_who_saw_the_same_version_one_wins_nineteen_are_told_it_changed(services: Services) -> None:
    cid = services.credentials.create(definition="microcredential", title="Concurrent", by=as_("pm"))
    seen = services.views.get(cid, by=SYSTEM).version

    assert race(services, cid, expected_version=seen) == Counter({"ok": 1, "stale": THREADS - 1})

    detail = services.views.get(cid, by=SYSTEM)
    assert detail.state == "on_hold" and detail.version == seen + 1
    assert transitions_in_history(services, cid) == 1


def test_twenty_clients_without_a_version_one_wins_the_rest_find_the_transition_gone(services: Services) -> None:
    cid = services.credentials.create(definition="microcredential", title="Concurrent", by=as_("pm"))

    assert race(services, cid, expected_version=None) == Counter({"ok": 1, "refused": THREADS - 1})

    assert services.views.get(cid, by=SYSTEM).state == "on_hold"
    assert transitions_in_history(services, cid) == 1
