"""SEQUENCE for calendar events: a feed that moves an event's day keeps its UID and raises its SEQUENCE, so calendar
applications update the event instead of keeping the old day or showing two.

Each UID's last published day and sequence are kept in ``calendar_event``; a feed read compares its days with
them and records the moves. Two feeds read at once may both try to record a new UID: the second sees the
first's row on its retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.notify.calendar import CalendarEntry
from workflow.store.database import Database
from workflow.store.tables import CALENDAR_EVENT

_CHUNK = 500  # UIDs per statement


def sequenced(database: Database, entries: Sequence[CalendarEntry], now: datetime) -> list[CalendarEntry]:
    """``entries`` with their SEQUENCE: 0 when first published, one more each time the day moved since."""
    try:
        return _sequenced(database, entries, now)
    except IntegrityError:  # another feed recorded one of these UIDs first
        return _sequenced(database, entries, now)


def _day(entry: CalendarEntry) -> date:
    return entry.when.date() if isinstance(entry.when, datetime) else entry.when


def _sequenced(database: Database, entries: Sequence[CalendarEntry], now: datetime) -> list[CalendarEntry]:
    uids = sorted({e.uid for e in entries})
    with database.begin() as conn:
        known = {}
        for start in range(0, len(uids), _CHUNK):
            chunk = uids[start:start + _CHUNK]
            known.update({row.uid: (row.day, row.sequence) for row in conn.execute(
                select(CALENDAR_EVENT.c.uid, CALENDAR_EVENT.c.day, CALENDAR_EVENT.c.sequence)
                .where(CALENDAR_EVENT.c.uid.in_(chunk)))})
        fresh: dict[str, date] = {}
        result = []
        for entry in entries:
            day = _day(entry)
            if entry.uid not in known:
                fresh.setdefault(entry.uid, day)
                known[entry.uid] = (day, 0)
            elif known[entry.uid][0] != day:
                sequence = known[entry.uid][1] + 1
                conn.execute(update(CALENDAR_EVENT).where(CALENDAR_EVENT.c.uid == entry.uid)
                             .values(day=day, sequence=sequence, changed_at=now))
                known[entry.uid] = (day, sequence)
            result.append(replace(entry, sequence=known[entry.uid][1]))
        if fresh:
            conn.execute(insert(CALENDAR_EVENT), [{"uid": uid, "day": day, "sequence": 0, "changed_at": now}
                                                  for uid, day in fresh.items()])
    return result
