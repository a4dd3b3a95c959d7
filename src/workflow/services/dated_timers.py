"""Keeping pending timers at dates (``at: <date field>`` and the warnings before them) on the institution's days.

A date field names a local calendar day, so its timer is due at the local midnight that starts it. Timers planned
before dates meant UTC days (by an earlier version, due at UTC midnight: 19:00 the evening before in Toronto), or
under another ``WORKFLOW_TIMEZONE``, would fire at the wrong hour; they are re-timed when the services start. Only
the due times of pending date timers change: nothing is added, cancelled or recorded in a history, and timers already
on time are left alone, so running it at every start is cheap and changes nothing the second time.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from workflow.clock import LocalDays
from workflow.engine.timers import plan
from workflow.services.definitions import DefinitionRegistry
from workflow.store import history, lookups
from workflow.store.database import Database
from workflow.store.history import Pending
from workflow.store.tables import CREDENTIAL, TIMER

log = logging.getLogger(__name__)


def replan_dated_timers(database: Database, definitions: DefinitionRegistry, days: LocalDays) -> int:
    """Re-time the pending date timers that are not due at the local midnight their date says; returns how many
    moved. Each credential is re-planned under its lock, so a concurrent action (or another process doing the same)
    is never overwritten with an older plan."""
    with database.begin_read() as conn:
        rows = conn.execute(select(TIMER.c.credential_id, TIMER.c.timer, CREDENTIAL.c.definition_name,
                                   CREDENTIAL.c.definition_version)
                            .join(CREDENTIAL, CREDENTIAL.c.id == TIMER.c.credential_id)
                            .where(TIMER.c.status == "pending")).all()
    dated: dict[tuple[str, int], set[str]] = {}
    candidates: set[int] = set()
    for row in rows:
        version = (row.definition_name, row.definition_version)
        if version not in dated:
            definition = definitions.engine(*version).definition
            dated[version] = {t.key for t in definition.timers if t.at is not None}
        if row.timer in dated[version]:
            candidates.add(row.credential_id)
    moved = 0
    for credential_id in sorted(candidates):
        with database.begin() as conn:
            credential = lookups.lock(conn, credential_id)
            if credential is None or credential.state_entered_at is None:
                continue
            definition = definitions.engine(credential.definition_name, credential.definition_version).definition
            keys = {t.key for t in definition.timers if t.at is not None}
            pending = [Pending(r.id, r.key, r.state, r.due_at) for r in conn.execute(
                select(TIMER.c.id, TIMER.c.key, TIMER.c.state, TIMER.c.due_at, TIMER.c.timer)
                .where(TIMER.c.credential_id == credential_id, TIMER.c.status == "pending")) if r.timer in keys]
            # Planned as of entering the state, so that every warning planned then is planned again.
            planned = plan(definition, state=credential.state, entered_at=credential.state_entered_at,
                           data=credential.data, now=credential.state_entered_at, days=days)
            for timer, due in history.timer_changes(pending, planned).retime:
                conn.execute(update(TIMER).where(TIMER.c.id == timer.id).values(due_at=due))
                moved += 1
    if moved:
        log.info("re-timed %d pending timer(s) at dates to local midnight in %s", moved, days.name)
    return moved
