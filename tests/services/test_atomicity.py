"""A write that fails half-way leaves no trace: state, version, checklist and history are unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from workflow.context import Services
from workflow.services.access import Caller

WRITE = re.compile(r"^(INSERT|UPDATE|DELETE)\s+(?:INTO\s+|FROM\s+)?(\w+)")

SYSTEM = Caller.system("test")
as_ = Caller.system  # acting as a named person, with the system's rights


class DiskFull(Exception):
    """Stands for the database failing in the middle of a transaction."""


@contextmanager
def failing_history_insert(services: Services) -> Iterator[list[str]]:
    """Make the database refuse the history insert, after the credential row has already been updated."""
    executed: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        write = WRITE.match(statement)
        if write:
            executed.append(f"{write.group(1)} {write.group(2)}")
        if statement.startswith("INSERT INTO event"):
            raise DiskFull("no space left on device")

    engine = services.database.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield executed
    finally:
        event.remove(engine, "before_cursor_execute", before)


def snapshot(services: Services, cid: int) -> tuple[Any, ...]:
    detail = services.views.get(cid, by=SYSTEM)
    history = [(e.seq, e.kind, e.to_state) for e in services.views.history(cid, by=SYSTEM)]
    return detail.state, detail.previous_state, detail.version, detail.checklist, detail.data, history


def test_transition_whose_history_write_fails_leaves_state_and_history_unchanged(services: Services) -> None:
    cid = services.credentials.create(definition="microcredential", title="Crash", by=as_("pm"))
    before = snapshot(services, cid)

    with failing_history_insert(services) as executed, pytest.raises(DiskFull):
        services.credentials.fire(credential_id=cid, trigger="hold", by=as_("pm"))

    assert "UPDATE credential" in executed  # the state change really was written before the failure
    assert snapshot(services, cid) == before
    services.credentials.fire(credential_id=cid, trigger="hold", by=as_("pm"))  # and the credential still works
    assert services.views.get(cid, by=SYSTEM).state == "on_hold"


def test_checklist_tick_whose_history_write_fails_is_not_kept(services: Services) -> None:
    cid = services.credentials.create(definition="microcredential", title="Crash", by=as_("pm"))
    before = snapshot(services, cid)

    with failing_history_insert(services) as executed, pytest.raises(DiskFull):
        services.credentials.set_item(credential_id=cid, item="labour_market_research", done=True, by=as_("lead"))

    assert "INSERT checklist_entry" in executed
    assert snapshot(services, cid) == before
    checklist = services.views.get(cid, by=SYSTEM).checklist
    assert not next(i for i in checklist if i.key == "labour_market_research").done
