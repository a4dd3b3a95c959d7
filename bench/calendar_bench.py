"""Benchmark: what keeping SEQUENCE costs a calendar feed — reading and writing ``calendar_event`` for each read of
a feed, against building the same iCalendar document without it, in the same run.

Not a test. Run it from the repository root::

    .venv/bin/python bench/calendar_bench.py                # SQLite; PostgreSQL too when a URL is set
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/calendar_bench.py

A feed of N events (tasks of a busy person: 50, 200, 500) is built in alternating rounds: (a) the document alone
(``calendar``), (b) sequencing then the document (``sequenced`` + ``calendar``) when no date moved, (c) the same
when every tenth event's day moved since the last read. The median of each is printed with its ratio to (a).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from workflow.notify.calendar import CalendarEntry, calendar
from workflow.notify.calendar_sequence import sequenced
from workflow.store.database import Database
from workflow.store.migrate import upgrade

ROUNDS = 40


def entries(n: int, shift: int) -> list[CalendarEntry]:
    """``n`` task events; every tenth one ``shift`` days later."""
    day = date(2027, 3, 1)
    return [CalendarEntry(f"task-{i}-item_{i}@bench.example", f"Due: item {i} — Credential {i}",
                          day + timedelta(days=shift if i % 10 == 0 else 0),
                          description=f"Checklist item {i}.", url=f"https://bench.example/credentials/{i}")
            for i in range(n)]


def measure(database: Database, n: int) -> tuple[float, float, float]:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    sequenced(database, entries(n, 0), now)  # first publication (untimed)
    plain, still, moved = [], [], []
    for r in range(ROUNDS):
        same = entries(n, r)  # the days as the last read left them
        start = time.perf_counter()
        calendar(same, stamp=now)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        calendar(sequenced(database, same, now), stamp=now)
        still.append(time.perf_counter() - start)
        shifted = entries(n, r + 1)
        start = time.perf_counter()
        calendar(sequenced(database, shifted, now), stamp=now)
        moved.append(time.perf_counter() - start)
    return statistics.median(plain), statistics.median(still), statistics.median(moved)


def report(name: str, database: Database) -> None:
    upgrade(database)
    for n in (50, 200, 500):
        plain, still, moved = measure(database, n)
        print(f"{name:10} {n:4} events: document {plain * 1000:7.2f} ms | with SEQUENCE, nothing moved "
              f"{still * 1000:7.2f} ms ({still / plain:4.2f}x) | a tenth moved {moved * 1000:7.2f} ms "
              f"({moved / plain:4.2f}x)")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report("sqlite", Database(f"sqlite:///{Path(folder) / 'bench.db'}"))
    url = os.environ.get("WORKFLOW_BENCH_POSTGRES_URL") or os.environ.get("WORKFLOW_TEST_POSTGRES_URL")
    if url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            report("postgresql", Database(f"{url}?options=-csearch_path%3D{schema}"))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
