"""Benchmark: what durable timers cost — firing everything that is due, and one poll against what exists.

Not a test. Run it from the repository root::

    .venv/bin/python bench/timers_bench.py            # SQLite, plus PostgreSQL when a URL is set
    .venv/bin/python bench/timers_bench.py --quick    # 10x smaller smoke run (under a minute)
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/timers_bench.py

PostgreSQL is measured when ``WORKFLOW_BENCH_POSTGRES_URL`` (or ``WORKFLOW_TEST_POSTGRES_URL``) is set; each
database of the run is a schema of its own (``bench_<random>``, via ``options=-csearch_path=...``), dropped at
the end. SQLite databases are files in a temporary folder.

The definition is ``tests/services/ticker``: a credential waits in ``waiting`` until its timer ``tick_due`` fires
``tick`` (→ ``ticked``, where it has no timers). Rows are bulk-inserted with SQLAlchemy Core (credentials in state
``waiting`` of ``ticker`` v1; timers ``pending``, due in the past for "due", years ahead for the rest); the clock is
a ``ManualClock`` set after every due time and before every future one.

1. Fire all due: 10,000 credentials, each with 1 due and 9 future timers (100,000 pending, 10,000 due). Measured:
   the wall time of ``services.timers.run_due()`` firing the 10,000 (one transaction each; firing ``tick`` also
   cancels the credential's 9 future timers, as ``sync_timers`` does when a credential leaves the timers' state:
   that is part of the real cost). Baselines in the same database: ``services.credentials.fire(tick)`` on 10,000
   other credentials without timers, and on 10,000 credentials with 10 future timers each, all 10 cancelled by
   the transition (these add 100,000 future timers to the table; the poll does not depend on them, see 2). The
   three sides alternate in 100 rounds of 100 (rotating order): ``run_due`` is stopped after one claim per round
   through its ``stop`` event, and the last round runs it until nothing is due.
2. Poll cost against what exists: ``services.timers.claim(100)`` with nothing due and with exactly 100 due (put
   back to pending, untimed, between repetitions), on a database of 10,000 pending timers and one of 1,000,000
   (both over 10,000 credentials), alternating every repetition; the medians of 200 polls are reported. On
   PostgreSQL the two timer tables have autovacuum off and are VACUUMed (untimed, INDEX_CLEANUP ON) before each
   repetition, so that both sizes see the same dead index entries; section 3 measures what those entries cost:
   a poll with nothing due after N timers were claimed since the last VACUUM. The poll statement is captured as
   the service sends it and shown with EXPLAIN (PostgreSQL: EXPLAIN ANALYZE, rolled back) on each database and
   size.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, Table, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url

from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.store.database import Database
from workflow.store.tables import CREDENTIAL, TIMER

ROOT = Path(__file__).resolve().parent.parent
TICKER = ROOT / "tests" / "services" / "ticker"
DEFINITION = "ticker"
ACTOR = "bench"
POLL = 100  # the scheduler's batch: TimerService.run_due(batch=100)
WARM = 100  # credentials per path fired before measuring

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the ManualClock: after every due time, before every future one
CREATED = NOW - timedelta(days=30)
DUE = NOW - timedelta(days=1)
AHEAD = NOW + timedelta(days=30)  # future timers: from here to three years on
SPREAD = 3 * 365 * 86400


@dataclass(frozen=True)
class Plan:
    fire_credentials: int  # part 1: credentials with 1 due + SIBLINGS future timers (and as many per baseline)
    poll_credentials: int  # part 2: credentials the timers of each size are spread over
    small: int  # part 2: pending timers in the small database
    large: int  # part 2: pending timers in the large database
    polls: int  # part 2: timed polls of each kind on each size
    rounds: int  # part 2: alternating rounds the polls are split into
    chunk: int  # rows per executemany (and per transaction)
    churn: tuple[int, ...]  # section 3: timers claimed since the last VACUUM before each idle poll
    explain: bool


SIBLINGS = 9


# -- data set-up ----------------------------------------------------------------------------------------------


def batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def add_credentials(db: Database, version: int, count: int, label: str, chunk: int) -> list[int]:
    """``count`` credentials of ``ticker`` in ``waiting`` (no ``created`` events: the timer path reads none)."""
    rows = ({"title": f"{label} {i}", "definition_name": DEFINITION, "definition_version": version,
             "state": "waiting", "previous_state": None, "data": {}, "rounds": {}, "version": 1, "org_unit_id": None,
             "created_by": ACTOR, "created_at": CREATED, "updated_at": CREATED, "state_entered_at": CREATED}
            for i in range(count))
    statement = insert(CREDENTIAL).returning(CREDENTIAL.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for batch in batches(rows, chunk):
        with db.begin() as conn:
            ids.extend(conn.execute(statement, batch).scalars())
    return ids


def timer_row(credential_id: int, key: str, due_at: datetime) -> dict[str, Any]:
    """A pending ``tick_due`` timer guarded by ``waiting``, as ``sync_timers`` writes them."""
    return {"credential_id": credential_id, "key": key, "timer": "tick_due", "action": "fire", "due_at": due_at,
            "state": "waiting", "trigger": "tick", "notify": [], "status": "pending", "lease_owner": None,
            "lease_until": None, "attempts": 0, "outcome": "", "created_at": CREATED, "fired_at": None}


def add_rows(db: Database, table: Table, rows: Iterable[dict[str, Any]], chunk: int) -> int:
    """Insert rows with Core executemany, one transaction per chunk; returns how many."""
    count = 0
    statement = insert(table)
    for batch in batches(rows, chunk):
        with db.begin() as conn:
            conn.execute(statement, batch)
        count += len(batch)
    return count


def future(rng: random.Random) -> datetime:
    return AHEAD + timedelta(seconds=rng.randrange(SPREAD))


def analyze(services: Services) -> None:
    """PostgreSQL: fresh planner statistics after the bulk load (autovacuum would take them soon anyway).
    SQLite is left as a deployment leaves it: no ANALYZE, no sqlite_stat1."""
    if not services.database.is_sqlite:
        with services.database.begin() as conn:
            conn.execute(text("ANALYZE timer"))
            conn.execute(text("ANALYZE credential"))


def vacuum(services: Services) -> None:
    """PostgreSQL: VACUUM the timer table, indexes included (SQLite updates in place and has nothing to clean up).

    INDEX_CLEANUP ON: by default (PostgreSQL 14+) VACUUM leaves the indexes alone while fewer than ~2% of the
    table's pages have dead rows, which on the 1,000,000-row table would leave the dead entries of the last
    thousands of claims in ix_timer_due, and on the 10,000-row table not."""
    if not services.database.is_sqlite:
        with services.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (INDEX_CLEANUP ON) timer")


def no_autovacuum(services: Services) -> None:
    """PostgreSQL: no autovacuum on this (bench-only) timer table, so that the 10,000-row table is not cleaned up
    at other moments than the 1,000,000-row one (autovacuum's threshold is a fraction of the table)."""
    if not services.database.is_sqlite:
        with services.database.begin() as conn:
            conn.execute(text("ALTER TABLE timer SET (autovacuum_enabled = false)"))


def start(url: str, data_dir: Path) -> Services:
    settings = Settings(database_url=url, definitions_dir=TICKER, data_dir=data_dir, scheduler_in_app=False)
    return Services.start(settings, ManualClock(NOW))


# -- measuring helpers ------------------------------------------------------------------------------------------


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent through ``engine`` while the block runs (BEGIN left out)."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def fire_rate(services: Services, ids: list[int], caller: Caller) -> float:
    """Committed ``tick`` transitions per second over ``ids``, one ``services.credentials.fire`` each."""
    fire = services.credentials.fire
    begin = time.perf_counter_ns()
    for cid in ids:
        fire(credential_id=cid, trigger="tick", by=caller)
    return len(ids) / ((time.perf_counter_ns() - begin) / 1e9)


def status_counts(services: Services, ids: list[int]) -> dict[str, int]:
    with services.database.begin_read() as conn:
        timers = conn.execute(select(TIMER.c.status, func.count()).where(TIMER.c.credential_id.in_(ids))
                              .group_by(TIMER.c.status)).all()
        states = conn.execute(select(CREDENTIAL.c.state, func.count()).where(CREDENTIAL.c.id.in_(ids))
                              .group_by(CREDENTIAL.c.state)).all()
    return {f"timer {s}": int(n) for s, n in timers} | {f"credential {s}": int(n) for s, n in states}


def in_chunks(ids: list[int], size: int = 10_000) -> Iterator[list[int]]:
    for at in range(0, len(ids), size):
        yield ids[at:at + size]


def counts_over(services: Services, ids: list[int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in in_chunks(ids):
        for key, n in status_counts(services, part).items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))


# -- part 1: fire all due -------------------------------------------------------------------------------------


SIDES = ("run_due", "plain", "cancelling")


@dataclass
class FireResult:
    rounds: int
    counts: dict[str, list[int]] = field(default_factory=lambda: {side: [] for side in SIDES})
    seconds: dict[str, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    claims: list[float] = field(default_factory=list)  # seconds per claim() inside run_due
    per_op: dict[str, float] = field(default_factory=dict)  # SQL statements per operation

    def rate(self, side: str) -> float:
        """Operations per second over every round: total count over total time."""
        return sum(self.counts[side]) / sum(self.seconds[side])

    def round_rates(self, side: str) -> list[float]:
        return [n / s for n, s in zip(self.counts[side], self.seconds[side], strict=True)]

    @property
    def round_ratio(self) -> float:
        """Median over the rounds of (timers/s ÷ plain tx/s) within the round: less sensitive to drift."""
        return statistics.median(t / p for t, p in zip(self.round_rates("run_due"), self.round_rates("plain"),
                                                       strict=True))


class ChunkedRunDue:
    """Calls ``services.timers.run_due()`` so that it stops after ``batches`` claims (through its ``stop`` event,
    which it checks before each claim), timing each claim on the way."""

    def __init__(self, services: Services, result: FireResult) -> None:
        self.timers = services.timers
        self.result = result
        self.left = 0
        self.stop = threading.Event()
        claim = self.timers.claim

        def timed_claim(limit: int = POLL) -> list[int]:
            self.left -= 1
            if self.left <= 0:
                self.stop.set()  # run_due handles this batch, then returns
            begin = time.perf_counter_ns()
            try:
                return claim(limit)
            finally:
                self.result.claims.append((time.perf_counter_ns() - begin) / 1e9)

        self.timers.claim = timed_claim  # type: ignore[method-assign]  # run_due calls self.claim

    def __call__(self, batches: int | None) -> int:
        """Run until ``batches`` claims were made (None: until nothing is due); returns how many were handled."""
        self.left = batches if batches is not None else 1 << 62
        self.stop.clear()
        return self.timers.run_due(batch=POLL, stop=self.stop)

    def close(self) -> None:
        del self.timers.claim


def fire_all_due(backend: str, url: str, data_dir: Path, plan: Plan) -> FireResult:
    n = plan.fire_credentials
    rounds = n // POLL
    print(f"\n[{backend}] 1. fire all due: {n:,} credentials x (1 due + {SIBLINGS} future) = "
          f"{n * (SIBLINGS + 1):,} pending timers, {n:,} due; {rounds} rounds of {POLL} per side")
    result = FireResult(rounds)
    services = start(url, data_dir)
    try:
        db = services.database
        rng = random.Random(1)
        began = time.perf_counter()
        version = services.definitions.current_version(DEFINITION)
        warm = {label: add_credentials(db, version, WARM, f"warm {label}", plan.chunk)
                for label in ("timed", "plain", "cancelling")}
        timed = add_credentials(db, version, n, "timed", plan.chunk)
        plain = add_credentials(db, version, n, "plain", plan.chunk)
        cancelling = add_credentials(db, version, n, "cancelling", plan.chunk)

        def rows() -> Iterator[dict[str, Any]]:
            # The warm-up timers are due first, so that one claim(WARM) takes exactly them.
            for i, cid in enumerate(warm["timed"]):
                yield timer_row(cid, "tick_due", DUE - timedelta(hours=1) + timedelta(milliseconds=i))
                for k in range(SIBLINGS):
                    yield timer_row(cid, f"later_{k}", future(rng))
            for i, cid in enumerate(timed):
                yield timer_row(cid, "tick_due", DUE + timedelta(milliseconds=i))
                for k in range(SIBLINGS):  # distinct keys: sync_timers keys a credential's pending timers by key
                    yield timer_row(cid, f"later_{k}", future(rng))
            for cid in warm["cancelling"] + cancelling:
                for k in range(SIBLINGS + 1):
                    yield timer_row(cid, f"later_{k}", future(rng))

        inserted = add_rows(db, TIMER, rows(), plan.chunk)
        analyze(services)
        print(f"  set-up: {WARM * 3 + 3 * n:,} credentials, {inserted:,} timers in {time.perf_counter() - began:.1f} s"
              ": "
              f"{n * (SIBLINGS + 1):,} pending ({n:,} due) on the credentials run_due fires, "
              f"{n * (SIBLINGS + 1):,} future ones on the cancelling baseline's (cancelled as the rounds go), "
              "the rest on warm-up credentials")

        caller = Caller.system(ACTOR)
        timers = services.timers
        # Warm-up (not timed): each path once per warm credential, counting the statements sent.
        with statements(db.engine) as sent:
            claimed = timers.claim(WARM)
        result.per_op["claim(100)"] = len(sent)
        if len(claimed) != WARM:
            raise SystemExit(f"warm-up claimed {len(claimed)} timers, not {WARM}")
        with statements(db.engine) as sent:
            outcomes = {services.credentials.run_timer(timer_id, timers.owner) for timer_id in claimed}
        result.per_op["run_timer (fire tick, cancel 9)"] = len(sent) / WARM
        if not all(o.startswith("fired tick") for o in outcomes):
            raise SystemExit(f"warm-up timers: {outcomes}")
        with statements(db.engine) as sent:
            fire_rate(services, warm["plain"], caller)
        result.per_op["fire(tick), no timers"] = len(sent) / WARM
        with statements(db.engine) as sent:
            fire_rate(services, warm["cancelling"], caller)
        result.per_op["fire(tick), cancel 10 timers"] = len(sent) / WARM

        run_due = ChunkedRunDue(services, result)
        try:
            def side(name: str, r: int) -> None:
                part = slice(r * POLL, (r + 1) * POLL)
                begin = time.perf_counter_ns()
                if name == "run_due":  # one claim per round; the last round runs until nothing is due
                    count = run_due(1 if r < rounds - 1 else None)
                else:
                    ids = plain[part] if name == "plain" else cancelling[part]
                    fire_rate(services, ids, caller)
                    count = len(ids)
                result.seconds[name].append((time.perf_counter_ns() - begin) / 1e9)
                result.counts[name].append(count)

            report_every = max(1, rounds // 10)
            for r in range(rounds):
                for name in SIDES[r % 3:] + SIDES[: r % 3]:
                    side(name, r)
                if (r + 1) % report_every == 0:
                    rates = {name: sum(result.counts[name][-report_every:]) / sum(result.seconds[name][-report_every:])
                             for name in SIDES}
                    span = f"round {r + 1}" if report_every == 1 else f"rounds {r + 2 - report_every}-{r + 1}"
                    print(f"  {span}: run_due {rates['run_due']:6,.0f} timers/s   "
                          f"fire(tick) no timers {rates['plain']:6,.0f} tx/s   fire(tick) cancelling 10 "
                          f"{rates['cancelling']:6,.0f} tx/s")
        finally:
            run_due.close()

        fired, seconds = sum(result.counts["run_due"]), sum(result.seconds["run_due"])
        timer_rate, plain_rate, cancel_rate = (result.rate(s) for s in SIDES)
        claim_s = sum(result.claims)
        print(f"  run_due(): {fired:,} timers in {seconds:.2f} s = {timer_rate:,.0f} timers/s "
              f"({1e6 / timer_rate:,.0f} µs per timer); each fired tick and cancelled {SIBLINGS} future timers")
        print(f"    of which {len(result.claims)} claim(100) calls: {claim_s:.2f} s ({claim_s / seconds:.1%}), "
              f"median {statistics.median(result.claims) * 1e3:.2f} ms, first {result.claims[0] * 1e3:.2f} ms")
        print(f"  baseline fire(tick), no timers: {plain_rate:,.0f} tx/s ({1e6 / plain_rate:,.0f} µs/tx); "
              f"timers/s ÷ tx/s = {timer_rate / plain_rate:.2f} "
              f"(median of the rounds' ratios {result.round_ratio:.2f})")
        print(f"  fire(tick) cancelling 10 future timers: {cancel_rate:,.0f} tx/s ({1e6 / cancel_rate:,.0f} µs/tx)")
        plain_us, cancel_us, timer_us = 1e6 / plain_rate, 1e6 / cancel_rate, 1e6 / timer_rate
        print(f"  per due timer {timer_us:,.0f} µs ≈ transition {plain_us:,.0f} µs + cancelling the credential's "
              f"other timers {cancel_us - plain_us:,.0f} µs + claim / run_timer bookkeeping "
              f"{timer_us - cancel_us:,.0f} µs")
        print("  SQL statements per operation (BEGIN not counted): "
              + ", ".join(f"{k}: {v:g}" for k, v in result.per_op.items()))

        if fired != n:
            raise SystemExit(f"run_due handled {fired} timers, expected {n}")
        expected = {"credential ticked": n, "timer cancelled": n * SIBLINGS, "timer done": n}
        got = counts_over(services, timed)
        if got != expected:
            raise SystemExit(f"timer credentials after run_due: {got}, expected {expected}")
        got_plain = counts_over(services, plain)
        got_cancel = counts_over(services, cancelling)
        if got_plain != {"credential ticked": n} or got_cancel != {"credential ticked": n,
                                                                    "timer cancelled": n * (SIBLINGS + 1)}:
            raise SystemExit(f"baseline credentials: {got_plain}, {got_cancel}")
        print(f"  check: timed {got}; plain {got_plain}; cancelling {got_cancel}")
        return result
    finally:
        services.close()


# -- part 2: poll cost against what exists ----------------------------------------------------------------------


@dataclass
class PollDatabase:
    label: str
    size: int
    services: Services
    due: list[int]
    idle: list[float] = field(default_factory=list)  # µs per claim(100) with nothing due
    busy: list[float] = field(default_factory=list)  # µs per claim(100) with exactly 100 due

    def mark(self, status: str) -> None:
        """Put the 100 chosen timers back to ``status`` (pending: due again; done: nothing is due)."""
        with self.services.database.begin() as conn:
            conn.execute(update(TIMER).where(TIMER.c.id.in_(self.due))
                         .values(status=status, lease_owner=None, lease_until=None, attempts=0))

    def poll(self, expect: int) -> float:
        begin = time.perf_counter_ns()
        claimed = self.services.timers.claim(POLL)
        spent = (time.perf_counter_ns() - begin) / 1e3
        if len(claimed) != expect or (expect and sorted(claimed) != self.due):
            raise SystemExit(f"{self.label}: claim({POLL}) took {len(claimed)} timers, expected {expect}")
        return spent

    def repeat(self, record: bool) -> None:
        vacuum(self.services)  # PostgreSQL: no dead index entries left by earlier repetitions (see churn)
        self.mark("pending")
        busy = self.poll(POLL)
        self.mark("done")
        idle = self.poll(0)
        if record:
            self.busy.append(busy)
            self.idle.append(idle)


def poll_database(label: str, url: str, data_dir: Path, plan: Plan, size: int) -> PollDatabase:
    services = start(url, data_dir)
    try:
        db = services.database
        version = services.definitions.current_version(DEFINITION)
        began = time.perf_counter()
        credentials = add_credentials(db, version, plan.poll_credentials, label, plan.chunk)
        per = size // len(credentials)
        step = len(credentials) // POLL
        rng = random.Random(2)

        def rows() -> Iterator[dict[str, Any]]:
            for c, cid in enumerate(credentials):
                for k in range(per):
                    due = k == 0 and c % step == 0 and c // step < POLL
                    yield timer_row(cid, f"t{k}", DUE + timedelta(seconds=c) if due else future(rng))

        inserted = add_rows(db, TIMER, rows(), plan.chunk)
        analyze(services)
        no_autovacuum(services)
        with db.begin_read() as conn:
            due = sorted(conn.execute(select(TIMER.c.id).where(TIMER.c.due_at <= NOW)).scalars())
        assert len(due) == POLL and inserted == size, (len(due), inserted)
        print(f"  set-up {label}: {len(credentials):,} credentials, {inserted:,} pending timers ({POLL} due) "
              f"in {time.perf_counter() - began:.1f} s")
        return PollDatabase(label, size, services, due)
    except BaseException:
        services.close()
        raise


def captured_claim(pdb: PollDatabase) -> tuple[str, Any]:
    """The claim statement and parameters exactly as ``TimerService.claim`` sends them (the claim is rolled back
    by putting the rows back afterwards)."""
    params: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE TIMER"):
            params.append((statement, parameters))

    engine = pdb.services.database.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        pdb.services.timers.claim(POLL)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(params) == 1, params
    return params[0]


def churn(both: list[PollDatabase], steps: tuple[int, ...], polls: int = 15) -> dict[int, list[float]]:
    """Median µs of a poll with nothing due after ``steps`` timers have been claimed since the last VACUUM (each
    claimed timer leaves its old index entries behind on PostgreSQL until VACUUM, as firing timers does). The
    databases go in step, their polls alternating."""
    for pdb in both:
        vacuum(pdb.services)
    claimed = 0
    found: dict[int, list[float]] = {pdb.size: [] for pdb in both}
    for target in steps:
        for pdb in both:
            for _ in range(claimed, target, POLL):
                pdb.mark("pending")
                pdb.poll(POLL)
            pdb.mark("done")
        claimed = max(claimed, target)
        times: dict[int, list[float]] = {pdb.size: [] for pdb in both}
        for i in range(polls):
            for pdb in both if i % 2 == 0 else both[::-1]:
                times[pdb.size].append(pdb.poll(0))
        for size, values in times.items():
            found[size].append(statistics.median(values))
    return found


def explain(pdb: PollDatabase, cases: tuple[str, ...] = ("pending", "done"), note: str = "") -> list[str]:
    """The poll's plan on this database: EXPLAIN QUERY PLAN on SQLite; on PostgreSQL EXPLAIN (ANALYZE, BUFFERS),
    run in a transaction that is rolled back; with 100 due (``pending``) and with nothing due (``done``)."""
    lines: list[str] = []
    engine = pdb.services.database.engine
    for status in cases:
        what = (f"{POLL} due" if status == "pending" else "nothing due") + note
        pdb.mark(status)
        statement, params = captured_claim(pdb)
        pdb.mark(status)  # the capture claimed them: put them back
        if pdb.services.database.is_sqlite:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
                conn.rollback()
            depth: dict[int, int] = {0: 0}
            plan = []
            for node, parent, _unused, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                plan.append("  " * depth[node] + str(detail))
            lines.append(f"{pdb.label}, {what} (EXPLAIN QUERY PLAN):")
            lines.extend(plan)
        else:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params).all()
                conn.rollback()
            lines.append(f"{pdb.label}, {what} (EXPLAIN ANALYZE, rolled back):")
            lines.extend("  " + str(row[0]) for row in rows)
    return lines


@dataclass
class PollResult:
    sizes: tuple[int, int]
    idle: tuple[float, float]  # median µs: small, large
    busy: tuple[float, float]
    plans: list[str]
    statement: str
    churn: dict[int, list[float]]  # size -> median µs of an idle poll after plan.churn[i] claims since VACUUM


def poll_cost(backend: str, open_url: Callable[[str], Any], data_dir: Path, plan: Plan) -> PollResult:
    print(f"\n[{backend}] 2. poll cost: claim({POLL}) with nothing due and with {POLL} due; "
          f"{plan.small:,} vs {plan.large:,} pending timers over {plan.poll_credentials:,} credentials")
    with open_url("small") as small_url, open_url("large") as large_url:
        small = poll_database(f"{plan.small:,} pending", small_url, data_dir, plan, plan.small)
        try:
            large = poll_database(f"{plan.large:,} pending", large_url, data_dir, plan, plan.large)
            try:
                both = [small, large]
                for pdb in both:
                    for _ in range(10):
                        pdb.repeat(record=False)
                if not small.services.database.is_sqlite:
                    print("  (PostgreSQL: autovacuum off on these two timer tables; VACUUM (INDEX_CLEANUP ON), "
                          "untimed, before each repetition: the churn figures below show why)")
                per_round = max(1, plan.polls // plan.rounds)
                for r in range(plan.rounds):
                    for i in range(per_round):  # the two sizes alternate every repetition, the order flipping
                        for pdb in both if (r * per_round + i) % 2 == 0 else both[::-1]:
                            pdb.repeat(record=True)
                    print(f"  round {r + 1}: " + "   ".join(
                        f"{p.label}: nothing due {statistics.median(p.idle[-per_round:]):7,.0f} µs, "
                        f"{POLL} due {statistics.median(p.busy[-per_round:]):7,.0f} µs" for p in both))
                statement, _ = captured_claim(small)
                small.mark("done")
                plans: list[str] = []
                if plan.explain:
                    for pdb in both:
                        vacuum(pdb.services)
                        plans += explain(pdb)
                result = PollResult((small.size, large.size),
                                    (statistics.median(small.idle), statistics.median(large.idle)),
                                    (statistics.median(small.busy), statistics.median(large.busy)), plans,
                                    " ".join(statement.split()), {})
                for what, (a, b) in (("nothing due", result.idle), (f"{POLL} due", result.busy)):
                    print(f"  claim({POLL}), {what}: median {a:,.0f} µs at {small.size:,} pending, {b:,.0f} µs at "
                          f"{large.size:,}; ratio {b / a:.2f} ({len(small.idle)} polls each)")
                result.churn = churn(both, plan.churn)
                for pdb in both:
                    found = zip(plan.churn, result.churn[pdb.size], strict=True)
                    print(f"  churn, {pdb.label}: claim({POLL}) with nothing due after "
                          + ", ".join(f"{n:,} claimed: {us:,.0f} µs" for n, us in found) + " (since the last VACUUM)")
                if plan.explain and not large.services.database.is_sqlite:
                    plans += explain(large, ("done",), f" after {plan.churn[-1]:,} claimed since VACUUM")
                return result
            finally:
                large.services.close()
        finally:
            small.services.close()


# -- databases and the report -----------------------------------------------------------------------------------


def postgres_url() -> str | None:
    return os.environ.get("WORKFLOW_BENCH_POSTGRES_URL") or os.environ.get("WORKFLOW_TEST_POSTGRES_URL") or None


def sqlite_opener(folder: Path) -> Callable[[str], Any]:
    @contextmanager
    def open_url(name: str) -> Iterator[str]:
        path = folder / f"{name}-{uuid.uuid4().hex[:6]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    return open_url


def postgres_opener(base_url: str) -> Callable[[str], Any]:
    @contextmanager
    def open_url(_name: str) -> Iterator[str]:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
            print(f"  (schema {schema} dropped)")

    return open_url


def postgres_environment(base_url: str) -> str:
    admin = create_engine(base_url)
    try:
        with admin.connect() as conn:
            version = conn.execute(text("SELECT version()")).scalar_one()
            settings = {name: conn.execute(text(f"SHOW {name}")).scalar_one()
                        for name in ("shared_buffers", "synchronous_commit", "fsync", "work_mem")}
    finally:
        admin.dispose()
    return f"{version}; " + ", ".join(f"{k}={v}" for k, v in settings.items())


@dataclass
class Outcome:
    backend: str
    fire: FireResult
    poll: PollResult


def run(backend: str, open_url: Callable[[str], Any], data_dir: Path, plan: Plan) -> Outcome:
    began = time.perf_counter()
    with open_url("fire") as url:
        fired = fire_all_due(backend, url, data_dir, plan)
    polled = poll_cost(backend, open_url, data_dir, plan)
    print(f"  [{backend} done in {time.perf_counter() - began:.0f} s]")
    return Outcome(backend, fired, polled)


def report(outcomes: list[Outcome], plan: Plan) -> None:
    print(f"\nThe poll statement (as captured): {outcomes[0].poll.statement}")
    for out in outcomes:
        if out.poll.plans:
            print(f"\nPlans of the poll on {out.backend}:")
            print("\n".join("  " + line for line in out.poll.plans))
    n = plan.fire_credentials
    print(f"\n1. Fire all due: {n:,} due of {n * (SIBLINGS + 1):,} pending; each fire moves its credential "
          f"(tick) and cancels its {SIBLINGS} future timers\n")
    print("| database | run_due timers/s | µs/timer | of which claim | fire(tick) tx/s, no timers | µs/tx "
          "| timers/s ÷ tx/s | per-round ratio (median) | fire(tick) cancelling 10 timers, tx/s | µs/tx "
          "| µs/timer ≈ transition + cancelling + bookkeeping |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for out in outcomes:
        f = out.fire
        timer, plain, cancel = (f.rate(side) for side in SIDES)
        print(f"| {out.backend} | {timer:,.0f} | {1e6 / timer:,.0f} | {sum(f.claims) / sum(f.seconds['run_due']):.1%} "
              f"| {plain:,.0f} | {1e6 / plain:,.0f} | {timer / plain:.2f} | {f.round_ratio:.2f} "
              f"| {cancel:,.0f} | {1e6 / cancel:,.0f} | {1e6 / plain:,.0f} + {1e6 / cancel - 1e6 / plain:,.0f} + "
              f"{1e6 / timer - 1e6 / cancel:,.0f} |")
    small, large = plan.small, plan.large
    print(f"\n2. One poll, claim({POLL}): median µs over {plan.polls} polls of each kind and size\n")
    print(f"| database | nothing due, {small:,} pending | {large:,} pending | ratio | {POLL} due, {small:,} pending "
          f"| {large:,} pending | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for out in outcomes:
        p = out.poll
        print(f"| {out.backend} | {p.idle[0]:,.0f} | {p.idle[1]:,.0f} | {p.idle[1] / p.idle[0]:.2f} "
              f"| {p.busy[0]:,.0f} | {p.busy[1]:,.0f} | {p.busy[1] / p.busy[0]:.2f} |")
    print("\n3. One poll with nothing due (median µs of 15) after N timers were claimed since the last VACUUM "
          "(PostgreSQL keeps their old index entries until then; autovacuum off for the measurement)\n")
    print("| database | pending | " + " | ".join(f"N = {n:,}" for n in plan.churn) + " |")
    print("|---|---:|" + "---:|" * len(plan.churn))
    for out in outcomes:
        for size, values in out.poll.churn.items():
            print(f"| {out.backend} | {size:,} | " + " | ".join(f"{v:,.0f}" for v in values) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller smoke run")
    parser.add_argument("--polls", type=int, help="timed polls of each kind and size (default 200, quick 60)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even when a URL is set")
    parser.add_argument("--no-explain", action="store_true", help="leave out the poll's query plans")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    plan = Plan(fire_credentials=10_000 // scale, poll_credentials=10_000 // scale, small=10_000 // scale,
                large=1_000_000 // scale,
                polls=args.polls or (40 if args.quick else 200), rounds=4 if args.quick else 10, chunk=50_000,
                churn=(0, 1_000, 5_000) if args.quick else (0, 1_000, 5_000, 20_000),
                explain=not args.no_explain)
    pg = None if args.no_postgres else postgres_url()
    print(f"timers_bench: Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs{' (quick)' if args.quick else ''}")
    if pg:
        print(f"PostgreSQL: {postgres_environment(pg)}")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="workflow-timers-bench-") as tmp:
        folder = Path(tmp)
        outcomes.append(run("SQLite", sqlite_opener(folder), folder / "data", plan))
        if pg:
            outcomes.append(run("PostgreSQL", postgres_opener(pg), folder / "data", plan))
        else:
            print("\n[PostgreSQL] skipped: set WORKFLOW_BENCH_POSTGRES_URL (or WORKFLOW_TEST_POSTGRES_URL)")
    report(outcomes, plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
