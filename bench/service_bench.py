"""Benchmark: committed actions per second through the service layer against two hand-written baselines.

Not a test. Run it from the repository root::

    .venv/bin/python bench/service_bench.py            # SQLite, plus PostgreSQL when a URL is set
    .venv/bin/python bench/service_bench.py --quick    # short smoke run
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/service_bench.py --report   # also writes bench/report/service.md

PostgreSQL is measured when ``WORKFLOW_BENCH_POSTGRES_URL`` (or ``WORKFLOW_TEST_POSTGRES_URL``) is set; the run
uses a schema of its own (``bench_<random>``, via ``options=-csearch_path=...``) that is dropped at the end.

Three operations, one committed transaction each, on the same database:

* ``fire``: the transitions ``hold`` (→ ``on_hold``) and ``resume`` (→ back to the previous state), which have no
  guards, alternately on credentials in ``ideation``;
* ``check``: ticking (then unticking, on the next pass) one of the four checklist items of
  ``submit_for_feasibility`` on credentials in ``ideation``;
* ``decide``: a dean's approval of ``feasibility_approval`` on credentials in ``feasibility`` whose checklist is
  not done, so the approval is recorded but does not complete the gate (every approval comes from another
  dean: one person gives one approval). Each round gets fresh credentials, so that no credential gathers more
  than ``transitions / pool`` decisions.

Three sides do each operation, each on credentials of its own:

* ``service``: ``services.credentials.fire`` / ``set_item`` / ``decide`` (through the public ``Services`` object);
* ``core``: prepared SQLAlchemy Core statements on a connection of the service's own engine;
* ``driver``: the standard library's ``sqlite3`` (on SQLite) or ``psycopg`` (on PostgreSQL), on a connection of
  its own with the PRAGMAs the application's SQLite engine sets (WAL, ``synchronous=NORMAL``, foreign keys,
  busy timeout), SQL text written by hand.

Both baselines send the same statements: ``BEGIN IMMEDIATE`` on SQLite; lock and read the credential row
(``SELECT ... FOR UPDATE`` on PostgreSQL); for ``check`` the checklist entry's upsert (``INSERT ... ON CONFLICT
DO UPDATE``), for ``decide`` the ``gate_decision`` insert (with the same ``seen`` snapshot the service stores);
update the credential (version bump checked against the version read, ``updated_at``, the history's chain head
and, for ``fire``, state / previous_state / state_entered_at); insert one ``event`` row whose hash is SHA-256
over the canonical JSON of its content and the previous hash (as ``workflow.store.history``), the checklist or
decision row recording that event's seq and the event carrying what the row holds (``workflow.store.accounting``);
commit. The baselines do not read checklist entries or gate decisions (the service reads them joined with the
events that account for them) and check no rules: what the service does beyond these statements (permissions,
guards, the gate's rules, notices) is what the ratio measures.

Rounds alternate: within a round each operation is run by the three sides back to back, in an order that
cycles through all six permutations from round to round. Figures are medians over the rounds; the ratios are
the medians of the per-round ratios (each one of two runs measured side by side).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import itertools
import json
import os
import platform
import pstats
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
import sqlalchemy
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, bindparam, create_engine, func, insert, select, text, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.audit import verify_database
from workflow.store.accounting import decision_details, entry_details
from workflow.store.history import chain_rows
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
REPORT = ROOT / "bench" / "report" / "service.md"
DEFINITION = "microcredential"
ACTOR = "bench"
BY = Caller.system(ACTOR)  # the benchmark acts as the service itself: no role checks to set up
TARGET = 0.50  # service fire as a share of the raw driver baseline (stdlib sqlite3 on SQLite)
SIDES = ("service", "core", "driver")
OPS = ("fire", "check", "decide")

# What every credential starts with (the same on every side, so that decisions see the same snapshot).
TITLE = "Bench credential"
DATA = {"purpose": "Measure the write path", "description": "A credential of the service benchmark"}
# The checklist of submit_for_feasibility (the transition out of ideation) and its owners.
ITEMS = {"labour_market_research": "initiative_lead", "employers_contacted": "employer_engagement_lead",
         "working_group_formed": "initiative_lead", "industry_skills_identified": "sme"}
GATE, ROLE = "feasibility_approval", "dean"
GATE_FIELDS = ("title", "purpose", "description")  # requires_fields of the gate: its decisions' snapshot


# -- the Core baseline ------------------------------------------------------------------------------------------

_CID = bindparam("cid")
LOCK = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID).with_for_update()
BUMP = update(CREDENTIAL).where(CREDENTIAL.c.id == _CID, CREDENTIAL.c.version == bindparam("seen"))
RECORD = insert(EVENT)
DECIDED = insert(GATE_DECISION)


def _upsert(dialect: Any) -> Any:
    stmt = dialect.insert(CHECKLIST_ENTRY)
    return stmt.on_conflict_do_update(
        index_elements=[CHECKLIST_ENTRY.c.credential_id, CHECKLIST_ENTRY.c.item_key, CHECKLIST_ENTRY.c.round],
        set_={name: stmt.excluded[name] for name in ("done", "note", "actor", "updated_at", "seq")})


class Side(Protocol):
    def fire(self, cid: int, trigger: str) -> str: ...
    def check(self, cid: int, item: str, done: bool) -> None: ...
    def decide(self, cid: int, approver: str) -> None: ...


class ServiceSide:
    """The service, through the public ``Services`` object only."""

    def __init__(self, services: Services) -> None:
        self.credentials = services.credentials
        self.callers: dict[str, Caller] = {}

    def fire(self, cid: int, trigger: str) -> str:
        return str(self.credentials.fire(credential_id=cid, trigger=trigger, by=BY).dest)

    def check(self, cid: int, item: str, done: bool) -> None:
        self.credentials.set_item(credential_id=cid, item=item, done=done, by=BY)

    def decide(self, cid: int, approver: str) -> None:
        by = self.callers.get(approver) or self.callers.setdefault(approver, Caller.system(approver))
        result = self.credentials.decide(credential_id=cid, gate=GATE, verdict="approve", by=by, role=ROLE)
        if result.fired is not None:
            raise SystemExit(f"service: the approval of credential {cid} completed the gate")


class CoreSide:
    """Prepared SQLAlchemy Core statements on a connection of the service's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.upsert = _upsert(pg_dialect if engine.dialect.name == "postgresql" else sqlite_dialect)

    def _finish(self, conn: Any, row: Any, event: dict[str, Any], changes: dict[str, Any]) -> None:
        head = chain_rows(row.chain_hash, [event])
        done = conn.execute(BUMP, {"cid": row.id, "seen": row.version, "version": event["seq"],
                                   "updated_at": event["at"], "chain_seq": head.seq, "chain_hash": head.hash,
                                   **changes})
        if done.rowcount != 1:
            raise SystemExit(f"core: credential {row.id} changed under the lock")
        conn.execute(RECORD, event)

    def fire(self, cid: int, trigger: str) -> str:
        with self.engine.begin() as conn:
            row = conn.execute(LOCK, {"cid": cid}).one()
            dest = "on_hold" if trigger == "hold" else row.previous_state
            now = datetime.now(UTC)
            self._finish(conn, row, _event(cid, row.version + 1, now, ACTOR, "transition", trigger=trigger,
                                           from_state=row.state, to_state=dest),
                         {"state": dest, "previous_state": row.state, "state_entered_at": now})
        return str(dest)

    def check(self, cid: int, item: str, done: bool) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(LOCK, {"cid": cid}).one()
            now = datetime.now(UTC)
            entry = _entry(cid, row.rounds, item, done, now, row.version + 1)
            conn.execute(self.upsert, entry)
            self._finish(conn, row, _event(cid, row.version + 1, now, ACTOR, "checklist",
                                           details=entry_details(entry, ITEMS[item])), {})

    def decide(self, cid: int, approver: str) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(LOCK, {"cid": cid}).one()
            now = datetime.now(UTC)
            decision = _decision(cid, row.rounds, row.data, approver, now, row.version + 1)
            conn.execute(DECIDED, decision)
            self._finish(conn, row, _event(cid, row.version + 1, now, approver, "decision",
                                           details=decision_details(decision)), {})


# -- the raw driver baseline (sqlite3 or psycopg) ---------------------------------------------------------------

_COLUMNS = list(CREDENTIAL.c.keys())
_AT = {name: i for i, name in enumerate(_COLUMNS)}
_ID, _STATE, _PREVIOUS, _DATA, _ROUNDS, _VERSION, _HASH = (
    _AT[name] for name in ("id", "state", "previous_state", "data", "rounds", "version", "chain_hash"))
_EVENT_COLUMNS = ("credential_id", "seq", "at", "actor", "kind", "trigger", "from_state", "to_state", "comment",
                  "details", "prev_hash", "hash")
_DECISION_COLUMNS = ("credential_id", "gate", "round", "role", "actor", "principal", "verdict", "comment", "seen",
                     "decided_at", "seq")
_ENTRY_COLUMNS = ("credential_id", "item_key", "round", "done", "note", "actor", "updated_at", "seq")


class DriverSide:
    """The same statements as :class:`CoreSide`, written by hand for the database's own driver."""

    def __init__(self, conn: Any, *, postgres: bool) -> None:
        self.conn = conn
        self.cur = conn.cursor()
        self.postgres = postgres
        p = "%s" if postgres else "?"
        lock = " FOR UPDATE" if postgres else ""

        def values(columns: tuple[str, ...]) -> str:
            return f"({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})"

        self.lock = f"SELECT {', '.join(_COLUMNS)} FROM credential WHERE id = {p}{lock}"
        self.move = (f"UPDATE credential SET state = {p}, previous_state = {p}, state_entered_at = {p}, version = {p}, "
                     f"updated_at = {p}, chain_seq = {p}, chain_hash = {p} WHERE id = {p} AND version = {p}")
        self.bump = (f"UPDATE credential SET version = {p}, updated_at = {p}, chain_seq = {p}, chain_hash = {p} "
                     f"WHERE id = {p} AND version = {p}")
        self.record = f"INSERT INTO event {values(_EVENT_COLUMNS)}"
        self.upsert = (f"INSERT INTO checklist_entry {values(_ENTRY_COLUMNS)} "
                       "ON CONFLICT (credential_id, item_key, round) DO UPDATE SET done = excluded.done, "
                       "note = excluded.note, actor = excluded.actor, updated_at = excluded.updated_at, "
                       "seq = excluded.seq")
        self.decided = f"INSERT INTO gate_decision {values(_DECISION_COLUMNS)}"
        # How values travel: SQLite keeps naive UTC text and JSON text; psycopg takes aware times and Jsonb.
        if postgres:
            self.time: Callable[[datetime], Any] = lambda t: t
            self.json: Callable[[Any], Any] = Jsonb
            self.load: Callable[[Any], Any] = lambda v: v
        else:
            self.time = lambda t: t.replace(tzinfo=None).isoformat(" ", "microseconds")
            self.json = json.dumps
            self.load = json.loads

    def _begin(self) -> None:
        if not self.postgres:
            self.cur.execute("BEGIN IMMEDIATE")  # psycopg opens the transaction with the first statement

    def _locked(self, cid: int) -> tuple[Any, ...]:
        self._begin()
        self.cur.execute(self.lock, (cid,))
        row = self.cur.fetchone()
        if row is None:
            raise SystemExit(f"driver: credential {cid} not found")
        return tuple(row)

    def _record(self, row: tuple[Any, ...], now: datetime, actor: str, kind: str, *, trigger: str | None = None,
                from_state: str | None = None, to_state: str | None = None,
                details: dict[str, Any] | None = None) -> tuple[int, str]:
        """Insert the event that follows ``row``'s chain head; returns the new head."""
        seq, prev = row[_VERSION] + 1, row[_HASH]
        details = details or {}
        digest = hashlib.sha256(json.dumps({
            "credential_id": row[_ID], "seq": seq, "at": now.isoformat(timespec="microseconds"), "actor": actor,
            "kind": kind, "trigger": trigger, "from_state": from_state, "to_state": to_state, "comment": "",
            "details": details, "prev_hash": prev}, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()
        self.cur.execute(self.record, (row[_ID], seq, self.time(now), actor, kind, trigger, from_state, to_state, "",
                                       self.json(details), prev, digest))
        return seq, digest

    def _commit(self, cid: int) -> None:
        if self.cur.rowcount != 1:
            raise SystemExit(f"driver: credential {cid} changed under the lock")
        if self.postgres:
            self.conn.commit()
        else:
            self.cur.execute("COMMIT")

    def _run(self, body: Callable[[], None]) -> None:
        try:
            body()
        except BaseException:
            self.conn.rollback() if self.postgres else self.cur.execute("ROLLBACK")
            raise

    def fire(self, cid: int, trigger: str) -> str:
        dest = ""

        def body() -> None:
            nonlocal dest
            row = self._locked(cid)
            state = row[_STATE]
            dest = "on_hold" if trigger == "hold" else row[_PREVIOUS]
            now = datetime.now(UTC)
            seq, digest = self._record(row, now, ACTOR, "transition", trigger=trigger, from_state=state, to_state=dest)
            at = self.time(now)
            self.cur.execute(self.move, (dest, state, at, seq, at, seq, digest, cid, row[_VERSION]))
            self._commit(cid)

        self._run(body)
        return dest

    def check(self, cid: int, item: str, done: bool) -> None:
        def body() -> None:
            row = self._locked(cid)
            now = datetime.now(UTC)
            at = self.time(now)
            entry = _entry(cid, self.load(row[_ROUNDS]), item, done, now, row[_VERSION] + 1)
            details = entry_details(entry, ITEMS[item])
            entry["updated_at"] = at
            self.cur.execute(self.upsert, tuple(entry[c] for c in _ENTRY_COLUMNS))
            seq, digest = self._record(row, now, ACTOR, "checklist", details=details)
            self.cur.execute(self.bump, (seq, at, seq, digest, cid, row[_VERSION]))
            self._commit(cid)

        self._run(body)

    def decide(self, cid: int, approver: str) -> None:
        def body() -> None:
            row = self._locked(cid)
            now = datetime.now(UTC)
            decision = _decision(cid, self.load(row[_ROUNDS]), self.load(row[_DATA]), approver, now,
                                 row[_VERSION] + 1)
            details = decision_details(decision)
            decision["seen"], decision["decided_at"] = self.json(decision["seen"]), self.time(now)
            self.cur.execute(self.decided, tuple(decision[c] for c in _DECISION_COLUMNS))
            seq, digest = self._record(row, now, approver, "decision", details=details)
            self.cur.execute(self.bump, (seq, self.time(now), seq, digest, cid, row[_VERSION]))
            self._commit(cid)

        self._run(body)

    def close(self) -> None:
        self.cur.close()
        self.conn.close()


def sqlite_driver(path: str, busy_timeout: float) -> DriverSide:
    """A sqlite3 connection set up as the application's engine sets up its own (store/database.py)."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   f"busy_timeout={int(busy_timeout * 1000)}"):
        conn.execute(f"PRAGMA {pragma}")
    return DriverSide(conn, postgres=False)


def psycopg_driver(url: str) -> DriverSide:
    parsed = make_url(url)
    conn = psycopg.connect(host=parsed.host or "", port=parsed.port or 5432, user=parsed.username or "",
                           password=parsed.password or "", dbname=parsed.database or "",
                           options=str(parsed.query.get("options", "")), autocommit=False)
    return DriverSide(conn, postgres=True)


def _event(cid: int, seq: int, at: datetime, actor: str, kind: str, *, trigger: str | None = None,
           from_state: str | None = None, to_state: str | None = None,
           details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"credential_id": cid, "seq": seq, "at": at, "actor": actor, "kind": kind, "trigger": trigger,
            "from_state": from_state, "to_state": to_state, "comment": "", "details": details or {}}


def _decision(cid: int, rounds: dict[str, int], data: dict[str, Any], approver: str, now: datetime,
              seq: int) -> dict[str, Any]:
    """The gate_decision row of an approval, with the snapshot the service stores (the gate's fields; no item
    of the gate is done on these credentials), written by the event ``seq``."""
    return {"credential_id": cid, "gate": GATE, "round": rounds.get(GATE, 0), "role": ROLE, "actor": approver,
            "principal": approver, "verdict": "approve", "comment": "",
            "seen": {"fields": {name: data.get(name) for name in GATE_FIELDS}, "done": []}, "decided_at": now,
            "seq": seq}


def _entry(cid: int, rounds: dict[str, int], item: str, done: bool, now: datetime, seq: int) -> dict[str, Any]:
    """The checklist_entry row of a tick, written by the event ``seq``."""
    return {"credential_id": cid, "item_key": item, "round": rounds.get(item, 0), "done": done, "note": "",
            "actor": ACTOR, "updated_at": now, "seq": seq}


# -- workloads ----------------------------------------------------------------------------------------------------

@dataclass
class Pool:
    """The credentials one side works on, round robin, and how often each has been visited."""

    ids: list[int]
    visits: list[int] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    cursor: int = 0

    def __post_init__(self) -> None:
        self.visits = [0] * len(self.ids)
        self.state = [""] * len(self.ids)

    def next(self) -> tuple[int, int, int]:
        """(slot, credential id, visits so far) of the next action."""
        slot = self.cursor
        self.cursor = (self.cursor + 1) % len(self.ids)
        visit = self.visits[slot]
        self.visits[slot] = visit + 1
        return slot, self.ids[slot], visit


def run_op(op: str, side: Side, pool: Pool, n: int) -> None:
    if op == "fire":
        for _ in range(n):
            slot, cid, _visit = pool.next()
            pool.state[slot] = side.fire(cid, "resume" if pool.state[slot] == "on_hold" else "hold")
    elif op == "check":
        keys = list(ITEMS)
        for _ in range(n):
            _slot, cid, visit = pool.next()
            side.check(cid, keys[visit % len(keys)], (visit // len(keys)) % 2 == 0)
    else:
        for _ in range(n):
            _slot, cid, visit = pool.next()
            side.decide(cid, f"dean-{visit}")


def new_credentials(services: Services, op: str, count: int, label: str) -> list[int]:
    """``count`` credentials for ``op``, made and (for ``decide``) moved to feasibility by the service."""
    credentials = services.credentials
    ids = [credentials.create(definition=DEFINITION, title=TITLE, by=BY, data=DATA) for _ in range(count)]
    if op == "decide":
        for cid in ids:
            for item in ITEMS:
                credentials.set_item(credential_id=cid, item=item, done=True, by=BY)
            credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=BY)
    return ids


# -- running ------------------------------------------------------------------------------------------------------

@dataclass
class Result:
    backend: str
    driver: str
    rates: dict[str, dict[str, list[float]]]  # op → side → tx/s of each round
    per_round: int
    check: str = ""

    def median(self, op: str, side: str) -> float:
        return statistics.median(self.rates[op][side])

    def ratios(self, op: str, baseline: str) -> list[float]:
        """The per-round ratios service / baseline (each pair measured side by side), lowest first."""
        rates = self.rates[op]
        return sorted(s / b for s, b in zip(rates["service"], rates[baseline], strict=True))

    def ratio(self, op: str, baseline: str) -> float:
        """Median of the per-round ratios."""
        return statistics.median(self.ratios(op, baseline))

    def spread(self, op: str, baseline: str) -> str:
        """The middle half of the per-round ratios (first to third quartile)."""
        ratios = self.ratios(op, baseline)
        if len(ratios) < 4:
            return f"{ratios[0]:.0%}–{ratios[-1]:.0%}"
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        return f"{q1:.0%}–{q3:.0%}"


@dataclass(frozen=True)
class Plan:
    rounds: int
    per_round: int
    pool_size: int
    profile: bool


def check(services: Services, ids: dict[str, dict[str, list[int]]], ran: dict[str, int]) -> str:
    """Every chain verifies and every state is where its history leads (workflow.services.audit); the three sides
    wrote as many rows, of the same kinds, for each operation."""
    every = [cid for by_side in ids.values() for side_ids in by_side.values() for cid in side_ids]
    report = verify_database(services.database, every)
    if not report.ok:
        raise SystemExit(f"audit: {report.findings[:3]} missing {report.missing[:3]}")
    kinds = {"fire": "transition", "check": "checklist", "decide": "decision"}
    lines = [f"{report.credentials} credentials and {report.events} events verified (hash chains and states)"]
    with services.database.engine.connect() as conn:
        for op, by_side in ids.items():
            seen: dict[str, str] = {}
            for side, side_ids in by_side.items():
                mine = EVENT.c.credential_id.in_(side_ids) & (EVENT.c.kind == kinds[op])
                counts = [conn.execute(select(func.count()).where(mine)).scalar_one()]
                shapes: list[Any] = sorted({(r.trigger, r.comment, json.dumps(r.details, sort_keys=True))
                                            for r in conn.execute(select(EVENT.c.trigger, EVENT.c.comment,
                                                                         EVENT.c.details).where(mine))})
                if op == "decide":
                    theirs = GATE_DECISION.c.credential_id.in_(side_ids)
                    counts.append(conn.execute(select(func.count()).where(theirs)).scalar_one())
                    shapes += sorted({(r.round, r.role, r.verdict, r.comment, json.dumps(r.seen, sort_keys=True))
                                      for r in conn.execute(select(GATE_DECISION).where(theirs))})
                if op == "check":
                    shapes += sorted({(r.item_key, r.round) for r in conn.execute(
                        select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id.in_(side_ids)))})
                if any(count != ran[op] for count in counts):
                    raise SystemExit(f"{op}/{side}: {counts} rows for {ran[op]} actions")
                seen[side] = repr(shapes)
            if len(set(seen.values())) != 1:
                raise SystemExit(f"{op}: the sides wrote different rows: {seen}")
            lines.append(f"{op}: {ran[op]} actions a side, the same rows on every side")
    return "; ".join(lines)


def run(backend: str, url: str, data_dir: Path, plan: Plan) -> Result:
    rounds, per_round, pool_size = plan.rounds, plan.per_round, plan.pool_size
    settings = Settings(database_url=url, definitions_dir=DEFINITIONS, data_dir=data_dir, scheduler_in_app=False,
                        notifications_dir=DEFINITIONS.parent / "notifications")
    services = Services.start(settings)
    postgres = not services.database.is_sqlite
    driver = psycopg_driver(url) if postgres else sqlite_driver(
        str(make_url(url).database), settings.sqlite_busy_timeout_seconds)
    sides: dict[str, Side] = {"service": ServiceSide(services), "core": CoreSide(services.database.engine),
                              "driver": driver}
    driver_name = "psycopg" if postgres else "sqlite3"
    try:
        ids: dict[str, dict[str, list[int]]] = {op: {side: [] for side in SIDES} for op in OPS}
        ran = dict.fromkeys(OPS, 0)

        def pool(op: str, side: str) -> Pool:
            made = new_credentials(services, op, pool_size, side)
            ids[op][side] += made
            return Pool(made)

        pools = {op: {side: pool(op, side) for side in SIDES} for op in OPS}
        warm = max(per_round // 5, 2 * pool_size)
        for op in OPS:
            for name, side in sides.items():
                run_op(op, side, pools[op][name], warm)
        ran = {op: warm for op in OPS}
        rates: dict[str, dict[str, list[float]]] = {op: {side: [] for side in SIDES} for op in OPS}
        orders = list(itertools.permutations(SIDES))
        print(f"\n[{backend}] {rounds} rounds x {per_round} actions per operation and side, pools of {pool_size} "
              f"credentials; driver baseline: {driver_name}")
        for r in range(rounds):
            order = orders[r % len(orders)]
            for op in OPS:
                if op == "decide":  # fresh credentials: decisions pile up on a credential at its gate
                    pools[op] = {side: pool(op, side) for side in SIDES}
                for name in order:
                    start = time.perf_counter_ns()
                    run_op(op, sides[name], pools[op][name], per_round)
                    rates[op][name].append(per_round / ((time.perf_counter_ns() - start) / 1e9))
                ran[op] += per_round
                got = {side: rates[op][side][-1] for side in SIDES}
                print(f"  round {r + 1} {op:6}: service {got['service']:6.0f}  core {got['core']:6.0f}  "
                      f"{driver_name} {got['driver']:6.0f} tx/s   service/core {got['service'] / got['core']:4.0%}  "
                      f"service/{driver_name} {got['service'] / got['driver']:4.0%}")
        result = Result(backend, driver_name, rates, per_round, check(services, ids, ran))
        print(f"  check: {result.check}")
        if plan.profile:
            for op in OPS:
                profiler = cProfile.Profile()
                profiler.enable()
                run_op(op, sides["service"], pools[op]["service"], per_round)
                profiler.disable()
                print(f"\n  cProfile of {per_round} service '{op}' actions ({backend}): top 25 by own time, "
                      "then top 40 by cumulative time")
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
        return result
    finally:
        driver.close()
        services.close()


def postgres_url() -> str | None:
    return os.environ.get("WORKFLOW_BENCH_POSTGRES_URL") or os.environ.get("WORKFLOW_TEST_POSTGRES_URL") or None


def run_postgres(base_url: str, data_dir: Path, plan: Plan) -> Result:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        return run("PostgreSQL", url.render_as_string(hide_password=False), data_dir, plan)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        print(f"  (schema {schema} dropped)")


# -- reporting ------------------------------------------------------------------------------------------------------

def table(results: list[Result]) -> list[str]:
    lines = ["| database | op | service tx/s | Core tx/s | driver tx/s | service µs | Core µs | driver µs "
             f"| service % of Core (IQR) | service % of driver (IQR) | fire target ≥ {TARGET:.0%} of driver |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for res in results:
        for op in OPS:
            s, c, d = (res.median(op, side) for side in SIDES)
            core, drv = res.ratio(op, "core"), res.ratio(op, "driver")
            target = ("met" if round(drv * 100) >= TARGET * 100 else "MISSED") if op == "fire" else "(reported)"
            lines.append(f"| {res.backend} | {op} | {s:,.0f} | {c:,.0f} | {d:,.0f} ({res.driver}) | {1e6 / s:,.0f} "
                         f"| {1e6 / c:,.0f} | {1e6 / d:,.0f} | {core:.0%} ({res.spread(op, 'core')}) "
                         f"| {drv:.0%} ({res.spread(op, 'driver')}) "
                         f"| {target} |")
    return lines


def machine(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU") \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return (f"{os.cpu_count()} CPU(s) ({cpu}), shared with the database server and other work; load average "
            f"{load_before[0]:.1f} before, {load_after[0]:.1f} after. Python {platform.python_version()}, "
            f"SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}, psycopg {psycopg.__version__}, "
            f"{platform.system()} {platform.release()}.")


def write_report(results: list[Result], plan: Plan, command: str, note: str, seconds: float, pg: str) -> None:
    lines = [
        "# Service write path against hand-written baselines",
        "",
        f"`bench/service_bench.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {seconds:.0f} s in all. "
        f"{plan.rounds} rounds of " + ", ".join(f"{r.per_round} ({r.backend})" for r in results)
        + f" actions per operation and side (pools of {plan.pool_size} credentials a side), one committed "
        "transaction per action. Within a round the three sides of an "
        "operation run back to back in an order that cycles through all six permutations; tx/s are medians over "
        "the rounds, the percentages medians of the per-round ratios (IQR: their first to third quartile).",
        "",
        "Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Machine: {note}{' ' + pg if pg else ''}",
        "",
        *table(results),
        "",
        "* **fire**: `hold` / `resume` (no guards) alternately on credentials in ideation.",
        "* **check**: `set_item` ticking or unticking one of the four items of `submit_for_feasibility`; the "
        "baselines upsert the checklist entry (`INSERT ... ON CONFLICT DO UPDATE`).",
        "* **decide**: a dean's approval of `feasibility_approval` that does not complete the gate (its checklist "
        "is not done); every approval by another dean, fresh credentials every round. The baselines insert the "
        "`gate_decision` row with the same snapshot.",
        "* **Core**: prepared SQLAlchemy Core statements on the service's engine. **driver**: `sqlite3` (with the "
        "PRAGMAs of the application's engine and `BEGIN IMMEDIATE`) or `psycopg` (`SELECT ... FOR UPDATE`), SQL "
        "text by hand. Both lock and read the credential row, run the operation's statement, bump the version "
        "(checked against the one read), insert the hash-chained event and commit; neither reads checklist entries "
        "or decisions or checks any rule.",
        "",
        "Check after each database: " + "; ".join(f"{r.backend}: {r.check}" for r in results) + ".",
        "",
        "Per round (tx/s, service / Core / driver):",
        "",
    ]
    for res in results:
        for op in OPS:
            rounds = "  ".join(f"{s:,.0f}/{c:,.0f}/{d:,.0f}" for s, c, d in zip(*(res.rates[op][side]
                                                                                 for side in SIDES), strict=True))
            lines.append(f"* {res.backend} {op}: {rounds}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nreport written to {REPORT.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (2 rounds of 60 actions)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 12, quick 2)")
    parser.add_argument("--transitions", type=int, help="actions per operation, side and round (default 200, quick 60)")
    parser.add_argument("--pg-transactions", type=int,
                        help="actions per operation, side and round on PostgreSQL, where every commit waits for the "
                             "WAL to reach the disk (default 50, quick 30)")
    parser.add_argument("--pool", type=int, default=20, help="credentials per operation and side (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra service round per operation")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even when a URL is set")
    parser.add_argument("--report", action="store_true", help=f"write {REPORT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    plan = Plan(rounds=args.rounds or (2 if args.quick else 12),
                per_round=args.transitions or (60 if args.quick else 200),
                pool_size=args.pool, profile=args.profile)
    pg = None if args.no_postgres else postgres_url()
    env = f"WORKFLOW_BENCH_POSTGRES_URL={shlex.quote(pg)} " if pg else ""
    command = f"{env}.venv/bin/python bench/service_bench.py {shlex.join(sys.argv[1:] if argv is None else argv)}"
    print(f"service_bench: Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
          f"{sqlite3.sqlite_version}, psycopg {psycopg.__version__}; operations {', '.join(OPS)}, one committed "
          "transaction each")
    load_before, started = os.getloadavg(), time.monotonic()
    results: list[Result] = []
    server = ""
    with tempfile.TemporaryDirectory(prefix="workflow-bench-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results.append(run("SQLite", sqlite_url, Path(tmp) / "data", plan))
        if pg:
            pg_plan = replace(plan, per_round=args.pg_transactions or (30 if args.quick else 50))
            results.append(run_postgres(pg, Path(tmp) / "data", pg_plan))
            engine = create_engine(pg)
            with engine.connect() as conn:
                server = f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar_one()} on the same host."
            engine.dispose()
        else:
            print("\n[PostgreSQL] skipped: set WORKFLOW_BENCH_POSTGRES_URL (or WORKFLOW_TEST_POSTGRES_URL)")
    note = machine(load_before, os.getloadavg())
    print()
    print("\n".join(table(results)))
    print(f"\n{note} {server}")
    if args.report:
        write_report(results, plan, command.strip(), note, time.monotonic() - started, server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
