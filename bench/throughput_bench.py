"""Benchmark: HTTP throughput of a real ``workflow serve --workers W``: deans approving a gate (which moves the
credential) against a floor of one trivial authenticated write, measured in the same run, interleaved.

Not a test. Run it from the repository root (it needs ``wrk``: ``apt-get install wrk``)::

    .venv/bin/python bench/throughput_bench.py                 # SQLite, plus PostgreSQL when a URL is set
    .venv/bin/python bench/throughput_bench.py --quick         # short smoke run
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/throughput_bench.py --workers 1,2,4

Each configuration — SQLite with one worker (``workflow serve`` refuses more), PostgreSQL with each worker count
asked — gets a fresh database (a SQLite file in a temporary folder, or a PostgreSQL schema ``bench_<random>``
dropped at the end) with one faculty, a project manager and 32 deans, each with an API token. One credential is
brought to ``feasibility`` through the services (created, its checklists ticked by their owner roles,
submitted); it is then copied row for row (the credential and every row that refers to it but outbox messages)
as often as the run needs, before and between phases, so that every copy is what the services would have made.
``workflow serve --workers W`` runs as a subprocess on a free port (``WORKFLOW_ENVIRONMENT=production``, its
scheduler on, as deployed) and 32 concurrent connections send, in alternating phases of equal length:

* approve: ``POST /api/v1/credentials/{id}/gates/feasibility_approval/decisions`` ``{"decision": "approve"}``,
  each credential once, by the deans in turn: the approval completes the gate and moves the credential to
  ``design`` in the same transaction (decision, version, events, timers, outbox messages), and the response is
  the credential's detail;
* floor: ``POST /api/v1/me/calendar`` by the same deans in turn: the same authentication, then one ``UPDATE`` of
  the caller's row (a new calendar-feed token).

Each phase is one run of ``wrk`` (2 threads, a Lua script choosing path, token and credential and counting
responses by status) or, with ``--client python``, of 32 threads with an ``httpx2`` client each (which competes
with the server for the CPU). Phases alternate floor/approve, the order flipping every round, after one warm-up
phase of each. Requests per second are totals over all rounds; p50 and p99 are over every request of all rounds
(wrk's full latency histogram). The server is then stopped with SIGTERM (it must stop cleanly) and the database
checked: every approval recorded moved its credential once. Results go to ``bench/report/throughput.md`` and
``throughput.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.orgfile import parse_org

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "report"
DEANS = 32
CONNECTIONS = 32
TARGET = 0.40
GATE = "feasibility_approval"
APPROVE_BODY = '{"decision": "approve"}'
SYSTEM = Caller.system("bench")

ORG = "\n".join([
    "units:",
    "  - {key: college, name: Bench College, kind: institution}",
    "  - {key: business, name: Faculty of Business, kind: faculty, parent: college}",
    "users:",
    "  - {username: pm, name: Project Manager, email: pm@bench.example,",
    "     roles: [{role: project_manager, unit: business}, {role: initiative_lead, unit: business}]}",
    *(f"  - {{username: dean.{n:02d}, name: Dean {n}, email: dean.{n:02d}@bench.example, "
      f"roles: [{{role: dean, unit: business}}]}}" for n in range(DEANS)),
])


# -- the database ----------------------------------------------------------------------------------------------


@contextmanager
def database(kind: str, pg_url: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in ``folder``, or a schema of its own in PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'workflow.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def settings_for(url: str, folder: Path) -> Settings:
    return Settings(environment="test", database_url=url, data_dir=folder, definitions_dir=ROOT / "definitions",
                    notifications_dir=ROOT / "notifications", scheduler_in_app=False)


def seed(services: Services) -> tuple[list[str], int]:
    """The organisation, a token per dean, and one credential at feasibility with its checklists done."""
    loaded = parse_org(ORG, file="bench-org.yaml", known_roles=services.people.known_roles)
    services.people.load(loaded, by=SYSTEM)
    tokens = [services.auth.create_token(services.people.user_id(f"dean.{n:02d}"), "bench").token
              for n in range(DEANS)]
    credentials = services.credentials
    cid = credentials.create(definition="microcredential", title="Supply-chain analytics",
                             by=services.access.caller_by_name("pm"), org_unit_id=services.people.unit_id("business"),
                             data={"purpose": "Logistics employers need analysts",
                                   "description": "Hands-on analytics for regional supply chains."})
    for trigger in ("submit_for_feasibility", None):
        for item in services.views.get(cid, by=SYSTEM).checklist:
            if not item.done:
                credentials.set_item(credential_id=cid, item=item.key, done=True, by=Caller.system(item.owner))
        if trigger:
            credentials.fire(credential_id=cid, trigger=trigger, by=SYSTEM)
    assert services.views.get(cid, by=SYSTEM).state == "feasibility"
    return tokens, cid


def copy_credential(services: Services, template: int, copies: int) -> list[int]:
    """``copies`` copies of a credential with every row that refers to it (outbox messages aside)."""
    credential = SQLModel.metadata.tables["credential"]
    children = [(table, column) for table in SQLModel.metadata.sorted_tables if table.name != "outbox"
                for column in table.columns if any(fk.column is credential.c.id for fk in column.foreign_keys)]
    made: list[int] = []
    with services.database.begin() as conn:
        present = set(inspect(conn).get_table_names())
        children = [(table, column) for table, column in children if table.name in present]
        row = conn.execute(select(credential).where(credential.c.id == template)).one()._asdict()
        kept = {table.name: [r._asdict() for r in conn.execute(select(table).where(column == template))]
                for table, column in children}
        for start in range(0, copies, 500):
            new = [{k: v for k, v in row.items() if k != "id"} | {"title": f"{row['title']} {start + n}"}
                   for n in range(min(500, copies - start))]
            ids = [r.id for r in conn.execute(
                insert(credential).returning(credential.c.id, sort_by_parameter_order=True), new)]
            for table, column in children:
                keys = {c.name for c in table.primary_key.columns}
                rows = [{k: v for k, v in r.items() if k not in keys} | {column.name: cid}
                        for cid in ids for r in kept[table.name]]
                if rows:
                    conn.execute(insert(table), rows)
            made += ids
    return made


def check(services: Services, answered: int, phases: int) -> str:
    """Every approval recorded moved its credential, once; a 201 was answered for (nearly) each of them."""
    credential, event = SQLModel.metadata.tables["credential"], SQLModel.metadata.tables["event"]
    with services.database.begin_read() as conn:
        design = conn.execute(select(func.count()).where(credential.c.state == "design")).scalar_one()
        decisions = conn.execute(select(func.count()).where(event.c.kind == "decision")).scalar_one()
        moves = conn.execute(select(func.count()).where(event.c.trigger == "approve_feasibility")).scalar_one()
    ok = design == decisions == moves and design - CONNECTIONS * phases <= answered <= design
    return (f"{'ok' if ok else 'MISMATCH'}: {decisions} approvals recorded, {moves} moves, {design} credentials "
            f"in design; {answered} answered 201 (requests cut off at a phase's end are not counted)")


# -- the server ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(url: str, folder: Path, workers: int) -> Iterator[str]:
    """``workflow serve --workers N`` on a free port, as production runs it; stopped with SIGTERM."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_ENVIRONMENT": "production", "WORKFLOW_DATABASE_URL": url, "WORKFLOW_DATA_DIR": str(folder),
           "WORKFLOW_DEFINITIONS_DIR": str(ROOT / "definitions"),
           "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
    port = free_port()
    log_path = folder / f"serve-{workers}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "workflow.cli", "serve", "--port", str(port),
                                    "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{base}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"workflow serve did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)  # uvicorn exits 0, or by the signal with one worker
        code = process.wait(timeout=60)
        out = log_path.read_text()
        if code not in (0, -signal.SIGTERM) or "Traceback" in out or \
                out.count("Application shutdown complete") != workers:
            raise SystemExit(f"workflow serve did not stop cleanly ({code}) after SIGTERM:\n{out[-4000:]}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# -- load ------------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase of load measured."""

    requests: int
    seconds: float
    statuses: Counter[int]
    latencies: Counter[int]  # microseconds → how many requests took that long
    socket_errors: int = 0
    ran_out: int = 0
    used: int = 0  # how many of the credentials offered were (or may have been) approved


WRK_SCRIPT = r"""
local mode, ids, tokens = MODE, IDS, TOKENS
local threads, made = {}, 0

function setup(thread)
  made = made + 1
  thread:set("tid", made)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[1])
  cursor, turn, statuses, ran_out = tid, tid, {}, 0
end

function request()
  turn = turn + nthreads
  local headers = {["Authorization"] = "Bearer " .. tokens[turn % #tokens + 1],
                   ["Content-Type"] = "application/json"}
  if mode == "floor" then
    return wrk.format("POST", "/api/v1/me/calendar", headers, "")
  end
  local id = ids[cursor]
  if id == nil then
    ran_out = ran_out + 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  cursor = cursor + nthreads
  return wrk.format("POST", "/api/v1/credentials/" .. id .. "/gates/GATE/decisions", headers, BODY)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local parts, s = {}, {}
  local out, used = 0, 0
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do s[code] = (s[code] or 0) + n end
    out = out + thread:get("ran_out")
    used = math.max(used, thread:get("cursor") - made)
  end
  for code, n in pairs(s) do table.insert(parts, '"' .. code .. '":' .. n) end
  local hist = {}
  for i = 1, #latency do
    local value, count = latency(i)
    table.insert(hist, "[" .. value .. "," .. count .. "]")
  end
  local e = summary.errors
  io.write("RESULT {\"requests\":" .. summary.requests .. ",\"duration_us\":" .. summary.duration ..
           ",\"statuses\":{" .. table.concat(parts, ",") .. "},\"ran_out\":" .. out .. ",\"used\":" .. used ..
           ",\"socket_errors\":" .. (e.connect + e.read + e.write + e.timeout) ..
           ",\"latency\":[" .. table.concat(hist, ",") .. "]}\n")
end
"""


def wrk_phase(base: str, mode: str, seconds: float, tokens: list[str], ids: list[int], folder: Path) -> Phase:
    script = folder / f"{mode}.lua"
    lua_ids = "{" + ",".join(map(str, ids)) + "}"
    lua_tokens = "{" + ",".join(f'"{t}"' for t in tokens) + "}"
    script.write_text(WRK_SCRIPT.replace("MODE", f'"{mode}"').replace("IDS", lua_ids).replace("TOKENS", lua_tokens)
                      .replace("GATE", GATE).replace("BODY", f"'{APPROVE_BODY}'"))
    threads = 2
    done = subprocess.run(["wrk", f"-t{threads}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "30s",
                           "-s", str(script), base, "--", str(threads)], capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    statuses = Counter({int(k): int(v) for k, v in found["statuses"].items()})
    return Phase(found["requests"], found["duration_us"] / 1e6, statuses,
                 Counter({int(v): int(n) for v, n in found["latency"]}), found["socket_errors"], found["ran_out"],
                 found["used"])


def python_phase(base: str, mode: str, seconds: float, tokens: list[str], ids: list[int], _folder: Path) -> Phase:
    import httpx2

    pending = iter(ids)
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    latencies: Counter[int] = Counter()
    count = {"requests": 0, "errors": 0, "ran_out": 0, "used": 0}
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        with httpx2.Client(base_url=f"{base}/api/v1", timeout=30,
                           headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"}) as http:
            while time.perf_counter() < deadline:
                if mode == "floor":
                    path, body = "/me/calendar", None
                else:
                    with lock:
                        cid = next(pending, None)
                        count["used"] += cid is not None
                    if cid is None:
                        count["ran_out"] += 1
                        return
                    path, body = f"/credentials/{cid}/gates/{GATE}/decisions", {"decision": "approve"}
                started = time.perf_counter()
                try:
                    status = http.post(path, json=body).status_code
                except httpx2.TransportError:
                    with lock:
                        count["errors"] += 1
                    continue
                took = int((time.perf_counter() - started) * 1e6)
                with lock:
                    statuses[status] += 1
                    latencies[took] += 1
                    count["requests"] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(CONNECTIONS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return Phase(count["requests"], time.perf_counter() - started, statuses, latencies, count["errors"],
                 count["ran_out"], count["used"])


def statements(services: Services, tokens: list[str], ids: list[int], n: int = 20) -> dict[str, Counter[str]]:
    """SQL statements per request of each path, by verb, counted in this process over the same database."""
    from fastapi.testclient import TestClient

    from workflow.web.app import create_app

    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen[statement.split(None, 1)[0].upper()] += 1

    found: dict[str, Counter[str]] = {}
    event.listen(services.database.engine, "before_cursor_execute", count)
    try:
        with TestClient(create_app(services.settings, services=services), base_url="https://bench") as client:
            client.headers["Authorization"] = f"Bearer {tokens[0]}"
            for path, paths in (("floor", ["/api/v1/me/calendar"] * n),
                                ("approve", [f"/api/v1/credentials/{cid}/gates/{GATE}/decisions" for cid in ids])):
                client.post(paths[0], json={"decision": "approve"})  # warm: first use of the token, say
                seen.clear()
                for url in paths[1:]:
                    assert client.post(url, json={"decision": "approve"}).status_code == 201
                found[path] = Counter({verb: round(k / (len(paths) - 1)) for verb, k in seen.items()})
    finally:
        event.remove(services.database.engine, "before_cursor_execute", count)
    return found


# -- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Side:
    """All phases of one path in one configuration."""

    phases: list[Phase] = field(default_factory=list)

    def add(self, phase: Phase) -> None:
        self.phases.append(phase)

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.phases)

    @property
    def rate(self) -> float:
        return self.requests / sum(p.seconds for p in self.phases)

    @property
    def round_rates(self) -> list[float]:
        return [p.requests / p.seconds for p in self.phases]

    def percentile(self, q: float) -> float:
        """Milliseconds below which ``q`` of all requests finished."""
        merged: Counter[int] = Counter()
        for p in self.phases:
            merged.update(p.latencies)
        total, seen = sum(merged.values()), 0
        for value in sorted(merged):
            seen += merged[value]
            if seen >= q * total:
                return value / 1000
        return float("nan")

    @property
    def statuses(self) -> Counter[int]:
        merged: Counter[int] = Counter()
        for p in self.phases:
            merged.update(p.statuses)
        return merged

    @property
    def socket_errors(self) -> int:
        return sum(p.socket_errors for p in self.phases)

    @property
    def ran_out(self) -> int:
        return sum(p.ran_out for p in self.phases)


@dataclass
class Result:
    database: str
    workers: int
    floor: Side
    approve: Side
    checked: str
    sql: dict[str, Counter[str]]


def run(kind: str, workers: int, args: argparse.Namespace, pg_url: str) -> Result:
    phase = wrk_phase if args.client == "wrk" else python_phase
    with tempfile.TemporaryDirectory() as tmp, database(kind, pg_url, Path(tmp)) as url:
        folder = Path(tmp)
        services = Services.start(settings_for(url, folder))
        try:
            tokens, template = seed(services)
            ids = [template, *copy_credential(services, template, args.credentials - 1)]
            floor, approve, used, fastest = Side(), Side(), 0, 0.0

            def approvals(seconds: float) -> Phase:
                nonlocal ids, used, fastest
                wanted = int(max(fastest, 100) * seconds * 1.5) + 2 * CONNECTIONS
                if len(ids) - used < wanted:  # more credentials at the gate, between phases
                    ids += copy_credential(services, template, wanted - (len(ids) - used))
                measured = phase(base, "approve", seconds, tokens, ids[used:], folder)
                used += measured.used
                fastest = max(fastest, measured.requests / measured.seconds)
                return measured

            with served(url, folder, workers) as base:
                phase(base, "floor", args.warmup, tokens, [], folder)
                warm = approvals(args.warmup)
                for n in range(args.rounds):
                    for mode in (("floor", "approve") if n % 2 == 0 else ("approve", "floor")):
                        if mode == "floor":
                            floor.add(phase(base, "floor", args.seconds, tokens, [], folder))
                        else:
                            approve.add(approvals(args.seconds))
                    print(f"  {kind}, {workers} worker(s), round {n + 1}: floor {floor.round_rates[-1]:7.1f}/s, "
                          f"approve {approve.round_rates[-1]:7.1f}/s", flush=True)
            checked = check(services, approve.statuses[201] + warm.statuses[201], args.rounds + 1)
            checked += f"; {len(ids)} credentials at the gate in all"
            if approve.ran_out:
                checked += f"; ran out of credentials {approve.ran_out} time(s)"
            sql = statements(services, tokens, copy_credential(services, template, 21))
            return Result(kind, workers, floor, approve, checked, sql)
        finally:
            services.close()


def statuses_text(side: Side) -> str:
    parts = [f"{code}: {n}" for code, n in sorted(side.statuses.items())]
    if side.socket_errors:
        parts.append(f"socket errors: {side.socket_errors}")
    return ", ".join(parts)


def write_report(results: list[Result], args: argparse.Namespace, took: float, load: str) -> str:
    lines = [
        "# HTTP throughput: approving a gate against a trivial authenticated write",
        "",
        f"`bench/throughput_bench.py` on {datetime.now(UTC):%Y-%m-%d} — {os.cpu_count()} CPU(s) shared with the "
        f"database and the load generator (load average {load}), "
        f"{CONNECTIONS} concurrent connections ({args.client}), {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s per path, `workflow serve --workers W` in production mode; {took:.0f} s in all. "
        "Approve: a dean's `POST /api/v1/credentials/{id}/gates/feasibility_approval/decisions` that completes "
        "the gate and moves the credential to design. Floor: `POST /api/v1/me/calendar` (authentication and one "
        "`UPDATE`). Ratio: approve requests/s ÷ floor requests/s "
        f"(target ≥ {TARGET:.0%}).",
        "",
        "| database | workers | path | requests | requests/s | rounds (req/s) | p50 ms | p99 ms | responses |",
        "|---|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for r in results:
        for name, side in (("floor", r.floor), ("approve", r.approve)):
            rounds = " ".join(f"{x:.0f}" for x in side.round_rates)
            lines.append(f"| {r.database} | {r.workers} | {name} | {side.requests} | {side.rate:.1f} | {rounds} | "
                         f"{side.percentile(0.5):.1f} | {side.percentile(0.99):.1f} | {statuses_text(side)} |")
    lines += ["", "| database | workers | approve ÷ floor | target | check |", "|---|---:|---:|---|---|"]
    for r in results:
        ratio = r.approve.rate / r.floor.rate
        verdict = "met" if ratio >= TARGET else "**missed**"
        lines.append(f"| {r.database} | {r.workers} | {ratio:.0%} | ≥ {TARGET:.0%}: {verdict} | {r.checked} |")
    lines += ["", "SQL statements per request, counted in-process over each database after its run:", "",
              "| database | workers | floor | approve |", "|---|---:|---|---|"]
    for r in results:
        lines.append(f"| {r.database} | {r.workers} | " + " | ".join(
            f"{sum(r.sql[p].values())} ({', '.join(f'{v} {n}' for v, n in sorted(r.sql[p].items()))})"
            for p in ("floor", "approve")) + " |")
    lines += ["", "Every approval is of a different credential, so no 409 is expected here (races between "
              "approvers are exercised by `tests/services/test_multiprocess.py`); both paths answer 201, and any "
              "other status would be listed under responses. SQLite is served with one worker only "
              "(`workflow serve` refuses more).", ""]
    return "\n".join(lines)


def write_chart(results: list[Result], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{r.database}\n{r.workers} worker(s)" for r in results]
    xs = range(len(results))
    fig, (rates, lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.38
    rates.bar([x - width / 2 for x in xs], [r.floor.rate for r in results], width, label="floor (calendar token)")
    rates.bar([x + width / 2 for x in xs], [r.approve.rate for r in results], width, label="approve + move")
    for x, r in zip(xs, results, strict=True):
        rates.annotate(f"{r.approve.rate / r.floor.rate:.0%}", (x + width / 2, r.approve.rate), ha="center",
                       va="bottom", fontsize=9)
    rates.set_xticks(list(xs), labels)
    rates.set_ylabel("requests / s")
    rates.set_title(f"Throughput, {CONNECTIONS} connections")
    rates.legend(fontsize=8)
    for q, style in ((0.5, "o"), (0.99, "^")):
        lat.plot(list(xs), [r.floor.percentile(q) for r in results], style, color="tab:blue", linestyle="",
                 label=f"floor p{q * 100:g}")
        lat.plot(list(xs), [r.approve.percentile(q) for r in results], style, color="tab:orange", linestyle="",
                 label=f"approve p{q * 100:g}")
    lat.set_xticks(list(xs), labels)
    lat.set_ylabel("latency, ms")
    lat.set_title("Latency")
    lat.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to measure on PostgreSQL, comma-separated (SQLite: always 1)")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--credentials", type=int, default=1000,
                        help="credentials at the gate to start with (more are added between phases as needed)")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s, one worker count")
    parser.add_argument("--report", type=Path, default=REPORT / "throughput.md")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.workers = 2, 2.0, 1.0, args.workers.split(",")[-1]
    if args.client == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk`, or pass --client python")
    pg_url = os.environ.get("WORKFLOW_BENCH_POSTGRES_URL") or os.environ.get("WORKFLOW_TEST_POSTGRES_URL", "")
    kinds = [k for k in args.databases.split(",") if k == "sqlite" or pg_url]
    if "postgres" in args.databases and not pg_url:
        print("PostgreSQL skipped: set WORKFLOW_BENCH_POSTGRES_URL", file=sys.stderr)
    started, load = time.perf_counter(), os.getloadavg()[0]
    counts = [int(w) for w in args.workers.split(",")]
    # `workflow serve` runs SQLite with one worker only (writers take turns); PostgreSQL with each count asked.
    results = [run(kind, w, args, pg_url) for kind in kinds for w in ([1] if kind == "sqlite" else counts)]
    load_text = f"{load:.1f} before, {os.getloadavg()[0]:.1f} after the run"
    report = write_report(results, args, time.perf_counter() - started, load_text)
    print("\n" + report)
    if not args.quick:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report)
        if write_chart(results, args.report.with_suffix(".png")):
            with args.report.open("a") as out:
                out.write(f"\n![throughput and latency]({args.report.with_suffix('.png').name})\n")
    print("median round rates: " + ", ".join(
        f"{r.database}/{r.workers}: {statistics.median(r.approve.round_rates):.0f} vs "
        f"{statistics.median(r.floor.round_rates):.0f}" for r in results))


if __name__ == "__main__":
    main()
