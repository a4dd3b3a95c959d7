"""Generated data at scale: a consortium's organisation and any number of credentials with years of history.

``workflow demo generate --credentials N --years Y`` fills the database with the rows the services would have
written had people walked each credential there: every history event (checklist ticks, data changes, decisions,
transitions, timer reminders and warnings, holds and withdrawals) follows the definition's transitions, guards
are checked by the real engine before each move, each event is hash-chained like the services chain it, and the
timers are those the timer service would have planned, fired or cancelled. Events, their chain, checklist
entries, decisions and timers are built by :mod:`workflow.store.history`, the one write path live actions use,
and go in with its bulk insert, one transaction per batch. Outbox mail of the past is not generated: it would
long have been sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text

from workflow.clock import LocalDays
from workflow.context import Services
from workflow.demo.college import PEOPLE
from workflow.demo.consortium import departments, faculty_people, load_organisation
from workflow.demo.lives import TARGETS, Skeleton, outline, pick, second
from workflow.demo.walk import walk
from workflow.engine import Engine
from workflow.errors import InvalidInput
from workflow.store import history
from workflow.store.history import Batch
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, TIMER
from workflow.store.waiting import GATE_WAITING

DEFINITION = "microcredential"
MAX_CREDENTIALS = 10_000_000
MAX_YEARS = 50


@dataclass(frozen=True)
class GenerateReport:
    """What a run wrote and how fast."""

    credentials: int
    events: int
    rows: int
    seconds: float
    by_state: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def check_arguments(credentials: int, years: int, batch: int) -> None:
    """Refuse arguments that cannot make a database, naming the option."""
    if not 0 <= credentials <= MAX_CREDENTIALS:
        raise InvalidInput("--credentials", f"must be between 0 and {MAX_CREDENTIALS:,}, not {credentials}")
    if not 1 <= years <= MAX_YEARS:
        raise InvalidInput("--years", f"must be between 1 and {MAX_YEARS}, not {years}")
    if batch < 1:
        raise InvalidInput("--batch", "must be at least 1")


def generate(services: Services, *, credentials: int, years: int, seed: int = 1, batch: int = 500,
             progress: Callable[[int], None] | None = None) -> GenerateReport:
    """Load the consortium organisation and add ``credentials`` credentials with up to ``years`` of history
    ending at the clock's now (the same seed and now give the same rows). ``progress`` is told how many credentials
    each committed batch added."""
    check_arguments(credentials, years, batch)
    load_organisation(services)
    started = time.perf_counter()
    now = second(services.clock.now())
    version = services.definitions.current_version(DEFINITION)
    engine = services.definitions.engine(DEFINITION, version)
    planned = {sid: s.planned_days or 0 for sid, s in engine.definition.states.items() if s.planned_days}
    planned["delivery"] = 365
    planned["on_hold"] = 60
    unit_ids = {u["key"]: u["id"] for u in services.people.units()}
    faculties = faculty_people()
    units = [(key, key) for key in faculties] + [(d, f) for f in faculties for d, _, parent
                                                 in departments() if parent == f]
    rng = random.Random(seed)
    states = [s for s, _ in TARGETS]
    targets = states[:credentials] + [pick(rng, TARGETS) for _ in range(max(0, credentials - len(states)))]
    skeletons = [outline(seed * 10_000_000 + i, random.Random(seed * 10_000_000 + i), target=t, units=units,
                         now=now, years=years, planned=planned) for i, t in enumerate(targets)]
    skeletons.sort(key=lambda s: s.created_at)  # ids follow creation, as they would have
    owner = f"scheduler-1:{rng.getrandbits(32):08x}"
    with services.database.begin_read() as conn:
        first_id = int(conn.execute(select(func.coalesce(func.max(CREDENTIAL.c.id), 0))).scalar() or 0) + 1
    context = Context(engine, version, now, owner, unit_ids, faculties, services.access.days)
    events = rows = 0
    by_state: dict[str, int] = {}
    for offset in range(0, len(skeletons), batch):
        chunk, ended = walk_batch(context, skeletons[offset: offset + batch], first_id + offset)
        with services.database.begin() as conn:
            history.write_batch(conn, chunk, context.engine)
        events += len(chunk.events)
        rows += chunk.count()
        for state, count in ended.items():
            by_state[state] = by_state.get(state, 0) + count
        if progress is not None:
            progress(len(chunk.credentials))
    if skeletons:
        _after_load(services)
    return GenerateReport(credentials, events, rows, time.perf_counter() - started, by_state)


@dataclass(frozen=True)
class Context:
    """What walking a batch of credentials needs besides their skeletons."""

    engine: Engine
    version: int
    now: datetime
    owner: str
    unit_ids: dict[str, int]
    faculties: dict[str, dict[str, str]]
    days: LocalDays


def walk_batch(context: Context, skeletons: list[Skeleton], first_id: int) -> tuple[Batch, dict[str, int]]:
    """The rows of a batch of credentials (ids from ``first_id``), and how many end in each state."""
    chunk = Batch()
    by_state: dict[str, int] = {}
    for position, skeleton in enumerate(skeletons):
        people = PEOPLE | context.faculties[skeleton.faculty]
        w = walk(context.engine, context.version, first_id + position, skeleton, people, context.now, context.owner,
                 context.days)
        credential = w.rows()
        credential["org_unit_id"] = context.unit_ids[skeleton.unit]
        chunk.credentials.append(credential)
        chunk.events.extend(w.history.take())
        chunk.entries.extend(w.entries)
        chunk.decisions.extend(w.decision_rows)
        chunk.timers.extend(w.timers)
        by_state[w.state] = by_state.get(w.state, 0) + 1
    return chunk, by_state


def _after_load(services: Services) -> None:
    """Let the next credential a person creates get the next id; on PostgreSQL, do what autovacuum would soon do
    after a bulk load (statistics for the planner, the visibility map for index-only scans)."""
    if services.database.is_sqlite:
        return
    with services.database.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('credential', 'id'), "
                          "(SELECT max(id) FROM credential))"))
    with services.database.engine.connect() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")
        for table in (CREDENTIAL, EVENT, CHECKLIST_ENTRY, GATE_DECISION, TIMER, GATE_WAITING):
            conn.execute(text(f"VACUUM (ANALYZE) {table.name}"))
