"""Benchmark: committed transitions per second through the service layer against a raw-SQL loop.

Not a test. Run it from the repository root::

    .venv/bin/python bench/service_bench.py            # SQLite, plus PostgreSQL when a URL is set
    .venv/bin/python bench/service_bench.py --quick    # short smoke run
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/service_bench.py

PostgreSQL is measured when ``WORKFLOW_BENCH_POSTGRES_URL`` (or ``WORKFLOW_TEST_POSTGRES_URL``) is set; the run
uses a schema of its own (``bench_<random>``, via ``options=-csearch_path=...``) that is dropped at the end.

Both sides fire ``hold`` (→ ``on_hold``) and ``resume`` (→ back to the previous state), which have no guards,
alternately on a pool of credentials of their own, one committed transaction per transition, on the same
database and the same SQLAlchemy engine:

* service: ``services.credentials.fire(credential_id=..., trigger=..., by=...)``;
* raw SQL: prepared SQLAlchemy Core statements on a connection of ``Database.engine``, the statements the service
  sends: lock and read the credential row (``FOR UPDATE`` on PostgreSQL; on SQLite the engine issues ``BEGIN
  IMMEDIATE``), update state / previous_state / version / updated_at / state_entered_at and the history's chain
  head, insert one ``event`` row with its hash. (Neither side reads checklist entries or gate decisions: no
  guard of these transitions looks at them.)

Rounds of the two alternate (the order flips every round); the figure reported is the median over the rounds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import Engine, bindparam, create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.store.history import chain_rows

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "definitions"
DEFINITION = "microcredential"
ACTOR = "bench"
BY = Caller.system(ACTOR)  # the benchmark acts as the service itself: no role checks to set up
TARGET = 0.50

CREDENTIAL = SQLModel.metadata.tables["credential"]
CHECKLIST = SQLModel.metadata.tables["checklist_entry"]
DECISION = SQLModel.metadata.tables["gate_decision"]
EVENT = SQLModel.metadata.tables["event"]

# The raw side's statements, built once (as a hand-written data layer would).
LOCK = select(CREDENTIAL).where(CREDENTIAL.c.id == bindparam("cid")).with_for_update()
MOVE = update(CREDENTIAL).where(CREDENTIAL.c.id == bindparam("cid"))
RECORD = insert(EVENT)


@dataclass
class Pool:
    """Credentials one side toggles between their state and ``on_hold``, round robin."""

    ids: list[int]
    on_hold: list[bool] = field(default_factory=list)
    cursor: int = 0

    def __post_init__(self) -> None:
        self.on_hold = [False] * len(self.ids)

    def next(self) -> tuple[int, int, str]:
        """(slot, credential id, trigger) of the next transition."""
        slot = self.cursor
        self.cursor = (self.cursor + 1) % len(self.ids)
        return slot, self.ids[slot], "resume" if self.on_hold[slot] else "hold"


def service_round(services: Services, pool: Pool, n: int) -> None:
    fire = services.credentials.fire
    for _ in range(n):
        slot, cid, trigger = pool.next()
        outcome = fire(credential_id=cid, trigger=trigger, by=BY)
        pool.on_hold[slot] = outcome.dest == "on_hold"


def raw_round(engine: Engine, pool: Pool, n: int) -> None:
    for _ in range(n):
        slot, cid, trigger = pool.next()
        with engine.begin() as conn:
            row = conn.execute(LOCK, {"cid": cid}).one()
            dest = "on_hold" if trigger == "hold" else row.previous_state
            now = datetime.now(UTC)
            version = row.version + 1
            event = {"credential_id": cid, "seq": version, "at": now, "actor": ACTOR, "kind": "transition",
                     "trigger": trigger, "from_state": row.state, "to_state": dest, "comment": "", "details": {}}
            head = chain_rows(row.chain_hash, [event])
            conn.execute(MOVE, {"cid": cid, "state": dest, "previous_state": row.state, "version": version,
                                "updated_at": now, "state_entered_at": now, "chain_seq": head.seq,
                                "chain_hash": head.hash})
            conn.execute(RECORD, event)
        pool.on_hold[slot] = dest == "on_hold"


def check(services: Services, pools: dict[str, Pool]) -> str:
    """Both pools consistent: version = number of events, last event = current state; same kind of rows."""
    with services.database.engine.connect() as conn:
        summary = []
        for name, pool in pools.items():
            ids = pool.ids
            rows = conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.state, CREDENTIAL.c.version)
                                .where(CREDENTIAL.c.id.in_(ids))).all()
            counts = dict(conn.execute(select(EVENT.c.credential_id, func.count()).where(
                EVENT.c.credential_id.in_(ids)).group_by(EVENT.c.credential_id)).all())
            for cid, state, version in rows:
                last = conn.execute(select(EVENT.c.to_state).where(
                    EVENT.c.credential_id == cid, EVENT.c.seq == version)).scalar_one()
                if counts[cid] != version or last != state:
                    raise SystemExit(f"{name}: credential {cid} inconsistent (version {version}, "
                                     f"{counts[cid]} events, state {state}, last event to {last})")
            shape = conn.execute(select(EVENT.c.kind, EVENT.c.comment, EVENT.c.details, EVENT.c.actor).where(
                EVENT.c.credential_id.in_(ids), EVENT.c.kind == "transition").distinct()).all()
            summary.append(f"{name} {sum(counts.values()) - len(ids)} transition events {[tuple(s) for s in shape]}")
    return "; ".join(summary)


@dataclass
class Result:
    backend: str
    service: list[float]
    raw: list[float]

    @property
    def ratio(self) -> float:
        """Median service rate over median raw rate."""
        return statistics.median(self.service) / statistics.median(self.raw)

    @property
    def round_ratio(self) -> float:
        """Median of the per-round service/raw ratios (less sensitive to drift during the run)."""
        return statistics.median(s / r for s, r in zip(self.service, self.raw, strict=True))


@dataclass(frozen=True)
class Plan:
    rounds: int
    per_round: int
    pool_size: int
    profile: bool


def run(backend: str, url: str, data_dir: Path, plan: Plan) -> Result:
    rounds, per_round, pool_size = plan.rounds, plan.per_round, plan.pool_size
    settings = Settings(database_url=url, definitions_dir=DEFINITIONS, data_dir=data_dir, scheduler_in_app=False,
                        notifications_dir=DEFINITIONS.parent / "notifications")
    services = Services.start(settings)
    try:
        pools = {
            side: Pool([services.credentials.create(definition=DEFINITION, title=f"{side} {i}", by=BY)
                        for i in range(pool_size)])
            for side in ("service", "raw")
        }
        engine = services.database.engine
        sides: dict[str, Callable[[int], None]] = {
            "service": lambda n: service_round(services, pools["service"], n),
            "raw": lambda n: raw_round(engine, pools["raw"], n),
        }
        warm = max(per_round // 5, 2 * pool_size)
        for side in sides.values():
            side(warm)
        rates: dict[str, list[float]] = {"service": [], "raw": []}
        print(f"\n[{backend}] {rounds} rounds x {per_round} transitions per side, pools of {pool_size} credentials")
        for r in range(rounds):
            order = ["service", "raw"] if r % 2 == 0 else ["raw", "service"]
            for name in order:
                start = time.perf_counter_ns()
                sides[name](per_round)
                rates[name].append(per_round / ((time.perf_counter_ns() - start) / 1e9))
            print(f"  round {r + 1}: service {rates['service'][-1]:8.0f} tx/s   raw {rates['raw'][-1]:8.0f} tx/s   "
                  f"service/raw {rates['service'][-1] / rates['raw'][-1]:.0%}")
        print(f"  check: {check(services, pools)}")
        if plan.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            sides["service"](per_round)
            profiler.disable()
            print(f"\n  cProfile of {per_round} service transitions ({backend}): "
                  "top 25 by own time, then top 40 by cumulative time")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
        return Result(backend, rates["service"], rates["raw"])
    finally:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (2 rounds of 60 transitions)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per side (default 5, quick 2)")
    parser.add_argument("--transitions", type=int, help="transitions per side and round (default 300, quick 60)")
    parser.add_argument("--pool", type=int, default=20, help="credentials per side (default 20)")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra service round per database")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even when a URL is set")
    args = parser.parse_args(argv)
    plan = Plan(rounds=args.rounds or (2 if args.quick else 5),
                per_round=args.transitions or (60 if args.quick else 300),
                pool_size=args.pool, profile=args.profile)
    print(f"service_bench: Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}; "
          f"transitions 'hold'/'resume' (no guards), one committed transaction each")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="workflow-bench-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results.append(run("SQLite", sqlite_url, Path(tmp) / "data", plan))
        pg = None if args.no_postgres else postgres_url()
        if pg:
            results.append(run_postgres(pg, Path(tmp) / "data", plan))
        else:
            print("\n[PostgreSQL] skipped: set WORKFLOW_BENCH_POSTGRES_URL (or WORKFLOW_TEST_POSTGRES_URL)")

    print()
    print("| database | service tx/s (median) | raw SQL tx/s (median) | service µs/tx | raw µs/tx "
          f"| service/raw | per-round ratio (median) | target ≥ {TARGET:.0%} |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for res in results:
        service, raw = statistics.median(res.service), statistics.median(res.raw)
        print(f"| {res.backend} | {service:,.0f} | {raw:,.0f} | {1e6 / service:,.0f} | {1e6 / raw:,.0f} "
              f"| {res.ratio:.0%} | {res.round_ratio:.0%} | {'met' if res.ratio >= TARGET else 'MISSED'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
