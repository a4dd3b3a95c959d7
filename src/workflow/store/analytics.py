"""Analytics folded from the histories: counts in ``analytics_count`` that the portfolio's figures are read from.

Nothing here is a second record of what happened: every count is derived from ``event`` rows, and the fold can be
dropped and redone from them at any time (:func:`refold`). :func:`fold` takes the events written since the last
fold (after ``analytics_mark.last_event_id``), oldest first, and adds for each

- a move into a state: one ``entered`` for the state, in the local month it happened;
- a move out of a state: one ``stay`` for the state left, of the whole days since the credential entered it, and
  one ``gate`` when the move was a gate's;
- a decision: one ``decision`` for the approver role, of the days since the credential entered its state;
- a checklist item marked done: one ``item`` for its owner role, likewise;

each under the credential's definition and faculty (its org unit's faculty, or the top unit above it), and once
more under :data:`ALL_FACULTIES`, so that figures for every faculty read as few rows as one faculty's. Days are
counted exactly to 120 and in buckets beyond (:func:`bucket`), so that the number of rows stops growing with the
number of credentials: reading the figures costs about the same for a thousand credentials as for a hundred
thousand. Events newer than ``settle`` are left for the next fold (on PostgreSQL a transaction that took its
event id earlier may commit later; none takes that long), and the mark row is locked while folding, so two folds
never count an event twice (on PostgreSQL a request that finds it locked reads what is folded so far instead of
waiting). The catch-up of a whole database is done outside page requests — by ``workflow db upgrade``,
``workflow analytics fold`` (or ``refold``) and the scheduler's periodic poll — and a request folds at most
:data:`REQUEST_EVENTS` events (the tail since the last fold), leaving more to those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from workflow.store.database import Database
from workflow.store.people import ORG_UNIT
from workflow.store.tables import ANALYTICS_COUNT, ANALYTICS_MARK, CREDENTIAL, EVENT

BATCH = 20_000
REQUEST_EVENTS = 2_000  # the most events a page request folds before reading the counts
ALL_YEARS = "*"  # the period of the counts of every year together
ALL_FACULTIES = -1  # the faculty of the counts of every faculty together (what an administrator reads first)
EXACT_DAYS = 120
Key = tuple[str, int, str, str, str, int]  # definition, faculty, kind, key, period, days


def bucket(days: int) -> int:
    """The bucket a number of whole days is counted in (its first day): exact to 120, weekly to a year, then by
    30 days to three years, then one bucket."""
    if days <= EXACT_DAYS:
        return max(days, 0)
    if days <= 365:
        return EXACT_DAYS + 1 + (days - EXACT_DAYS - 1) // 7 * 7
    if days <= 1095:
        return 366 + (days - 366) // 30 * 30
    return 1096


def bucket_last(first: int) -> int:
    """The last day counted in the bucket that starts at ``first``."""
    if first <= EXACT_DAYS:
        return first
    if first <= 365:
        return min(first + 6, 365)
    if first <= 1095:
        return min(first + 29, 1095)
    return 1_000_000


def faculties(conn: Connection) -> dict[int, int]:
    """Each org unit's faculty: itself or the nearest unit above it of kind ``faculty``, else the top unit."""
    units = {r.id: (r.parent_id, r.kind) for r in conn.execute(select(ORG_UNIT.c.id, ORG_UNIT.c.parent_id,
                                                                       ORG_UNIT.c.kind))}
    found: dict[int, int] = {}
    for unit in units:
        node: int | None = unit
        top = unit
        seen: set[int] = set()
        while node is not None and node in units and node not in seen:
            seen.add(node)
            if units[node][1] == "faculty":
                break
            top = node
            node = units[node][0]
        found[unit] = node if node is not None and node in units and units[node][1] == "faculty" else top
    return found


def fold(database: Database, *, now: datetime, settle: timedelta, day_of: Callable[[datetime], date],
         most: int | None = None) -> int:
    """Fold the events written since the last fold and older than ``settle`` (at most ``most`` of them, oldest
    first; the rest are left for the next fold); returns how many were read."""
    read = 0
    while most is None or read < most:
        batch = BATCH if most is None else min(BATCH, most - read)
        with database.begin() as conn:
            done, more = _fold_batch(conn, now - settle, day_of, postgres=not database.is_sqlite, batch=batch)
        read += done
        if not more:
            break
    return read


def refold(database: Database, *, now: datetime, settle: timedelta, day_of: Callable[[datetime], date]) -> int:
    """Drop the counts and fold every history again (after a change of time zone, or to check the counts)."""
    with database.begin() as conn:
        conn.execute(delete(ANALYTICS_COUNT))
        conn.execute(delete(ANALYTICS_MARK))
    return fold(database, now=now, settle=settle, day_of=day_of)


def _fold_batch(conn: Connection, until: datetime, day_of: Callable[[datetime], date], *,
                postgres: bool, batch: int = BATCH) -> tuple[int, bool]:
    # Another process folding holds the row: skip it (SKIP LOCKED) and read what is folded so far.
    mark = conn.execute(select(ANALYTICS_MARK.c.last_event_id).where(ANALYTICS_MARK.c.id == 1)
                        .with_for_update(skip_locked=True)).first()
    if mark is None:
        if conn.execute(select(ANALYTICS_MARK.c.id).where(ANALYTICS_MARK.c.id == 1)).first() is not None:
            return 0, False  # locked by the process folding now
        try:
            with conn.begin_nested():
                conn.execute(insert(ANALYTICS_MARK).values(id=1, last_event_id=0))
        except IntegrityError:  # another process's first fold got there first
            return 0, False
        last = 0
    else:
        last = int(mark.last_event_id)
    rows = conn.execute(
        select(EVENT.c.id, EVENT.c.credential_id, EVENT.c.seq, EVENT.c.at, EVENT.c.kind, EVENT.c.from_state,
               EVENT.c.to_state, EVENT.c.details, CREDENTIAL.c.definition_name, CREDENTIAL.c.org_unit_id)
        .join(CREDENTIAL, CREDENTIAL.c.id == EVENT.c.credential_id)
        .where(EVENT.c.id > last).order_by(EVENT.c.id).limit(batch)).all()
    taken = []
    for row in rows:
        if row.at > until:
            break
        taken.append(row)
    if not taken:
        return 0, False
    entered = _entered_before(conn, {r.credential_id for r in taken}, last)
    faculty_of = faculties(conn)
    counts: Counter[Key] = Counter()
    for row in taken:
        faculty = faculty_of.get(row.org_unit_id, 0) if row.org_unit_id is not None else 0
        bases = ((row.definition_name, faculty), (row.definition_name, ALL_FACULTIES))
        since = entered.get(row.credential_id)
        details: Mapping[str, Any] = row.details or {}
        days = bucket(int((row.at - since).total_seconds() // 86400)) if since is not None else None
        year = str(day_of(row.at).year)
        took: list[tuple[str, str]] = []
        if row.to_state is not None:
            if row.from_state is not None and days is not None and row.kind != "created":
                took.append(("stay", row.from_state))
                if details.get("gate"):
                    took.append(("gate", str(details["gate"])))
            for base in bases:
                counts[(*base, "entered", row.to_state, day_of(row.at).strftime("%Y-%m"), 0)] += 1
            entered[row.credential_id] = row.at
        elif row.kind == "decision" and details.get("role"):
            took.append(("decision", str(details["role"])))
        elif row.kind == "checklist" and details.get("done") and details.get("owner"):
            took.append(("item", str(details["owner"])))
        if days is not None:
            for kind, key in took:  # by the year it ended, and for every year at once (what is read most)
                for base in bases:
                    counts[(*base, kind, key, year, days)] += 1
                    counts[(*base, kind, key, ALL_YEARS, days)] += 1
    _add(conn, counts, postgres=postgres)
    more = len(taken) == len(rows) == batch  # a whole batch read: there may be more
    conn.execute(update(ANALYTICS_MARK).where(ANALYTICS_MARK.c.id == 1)
                 .values(last_event_id=taken[-1].id, folded_at=taken[-1].at if more else until))
    return len(taken), more


def _entered_before(conn: Connection, credentials: set[int], last: int) -> dict[int, datetime]:
    """When each credential entered the state it was in after the events folded so far."""
    found: dict[int, datetime] = {}
    ids = list(credentials)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        newest = (select(EVENT.c.credential_id, func.max(EVENT.c.seq).label("seq"))
                  .where(EVENT.c.credential_id.in_(chunk), EVENT.c.to_state.isnot(None), EVENT.c.id <= last)
                  .group_by(EVENT.c.credential_id).subquery())
        for row in conn.execute(select(EVENT.c.credential_id, EVENT.c.at).join(
                newest, and_(newest.c.credential_id == EVENT.c.credential_id, newest.c.seq == EVENT.c.seq))):
            found[row.credential_id] = row.at
    return found


def _add(conn: Connection, counts: Counter[Key], *, postgres: bool) -> None:
    if not counts:
        return
    values = [{"definition_name": d, "faculty_id": f, "kind": k, "key": key, "period": p, "days": days, "count": n}
              for (d, f, k, key, p, days), n in counts.items()]
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    statement = dialect_insert(ANALYTICS_COUNT)
    statement = statement.on_conflict_do_update(
        index_elements=["definition_name", "faculty_id", "kind", "key", "period", "days"],
        set_={"count": ANALYTICS_COUNT.c.count + statement.excluded.count})
    conn.execute(statement, values)
