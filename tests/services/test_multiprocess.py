"""Several processes over one PostgreSQL database: two ``workflow serve`` and two ``workflow scheduler`` processes
share the work while deans race each other over HTTP on both servers. Every request is answered (no 5xx, a 409
only for the dean who came second), every due timer fires once, every message is sent once, and every process
stops cleanly on SIGTERM. And what ``workflow serve`` says about its worker count: several workers are refused
on SQLite, and warned about when they could open more connections than PostgreSQL accepts.

Time is handled as in ``test_timers_processes``: credentials are set up with a clock 30 days back, so their
feasibility reminder (after 14 days) and escalation (after 28) are due for the processes, which run on the real
clock; a second batch is set up that way while the load runs, so timers come due under load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import func, select, text

from tests.conftest import DEFINITIONS, ROOT, settings_for
from tests.notify.mailing import MailServer, message_id
from tests.organisation import ORG, load_org
from tests.serving import free_port, wait_until_up
from tests.steps import at_feasibility
from workflow.cli import connection_budget
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.store.database import Database
from workflow.store.tables import CREDENTIAL, EVENT, OUTBOX, TIMER

DEPUTY = "  - {username: dean.deputy, name: Deputy Dean of Business, roles: [{role: dean, unit: business}]}\n"
BATCH = 20  # credentials at feasibility before the processes start, and again while the load runs
GATE = "feasibility_approval"


@dataclass
class Server:
    """One ``workflow serve`` process."""

    process: subprocess.Popen[str]
    base: str
    log: Path


def environment(url: str, tmp_path: Path, mail_port: int) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
            "WORKFLOW_DATABASE_URL": url, "WORKFLOW_DATA_DIR": str(tmp_path),
            "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS), "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"),
            "WORKFLOW_SMTP_HOST": "127.0.0.1", "WORKFLOW_SMTP_PORT": str(mail_port), "WORKFLOW_SMTP_SECURITY": "none",
            "WORKFLOW_OUTBOX_BACKOFF_SECONDS": "1", "WORKFLOW_TIMER_POLL_SECONDS": "0.2",
            "WORKFLOW_SHUTDOWN_SECONDS": "20"}


@contextmanager
def processes(env: dict[str, str], tmp_path: Path) -> Iterator[list[Server]]:
    """Two servers (each with its scheduler) and two schedulers of their own; all stopped with SIGTERM after."""
    cli = [sys.executable, "-m", "workflow.cli"]
    started: list[tuple[subprocess.Popen[str], Path]] = []
    servers = []
    for name, args in (("serve-a", ["serve"]), ("serve-b", ["serve"]), ("scheduler-c", ["scheduler"]),
                       ("scheduler-d", ["scheduler"])):
        log = tmp_path / f"{name}.log"
        port = free_port()
        with log.open("w") as sink:  # the child keeps its own copy of the file
            process = subprocess.Popen([*cli, *args, *(["--port", str(port), "--workers", "1"] if
                                                       args == ["serve"] else [])],
                                       env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        started.append((process, log))
        if args == ["serve"]:
            servers.append(Server(process, f"http://127.0.0.1:{port}/api/v1", log))
    try:
        for server in servers:
            wait_until_up(server.base.removesuffix("/api/v1"), server.process, server.log, seconds=90)
        yield servers
    finally:
        for process, _ in started:
            process.send_signal(signal.SIGTERM)
        for process, log in started:
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            out = log.read_text()
            assert code in (0, -signal.SIGTERM), f"{log.name} exited {code}:\n{out}"
            assert "Traceback" not in out, out
            if "serve" in log.name:
                assert "Application shutdown complete" in out, out  # stopped gracefully, scheduler included


@dataclass
class Answer:
    """What one request got back."""

    what: str
    status: int
    body: Any


class Load:
    """Requests from a pool of threads to both servers, each remembered with what it was for."""

    def __init__(self, servers: list[Server], tokens: dict[str, str]) -> None:
        self.servers = servers
        self.tokens = tokens
        self.pool = ThreadPoolExecutor(max_workers=12)
        self.futures: list[Future[Answer]] = []

    def send(self, what: str, server: int, user: str, method: str, path: str, body: Any = None) -> None:
        def call() -> Answer:
            response = httpx.request(method, self.servers[server].base + path, json=body, timeout=60,
                                     headers={"Authorization": f"Bearer {self.tokens[user]}"})
            return Answer(what, response.status_code, response.json() if response.content else None)

        self.futures.append(self.pool.submit(call))

    def race(self, cid: int) -> None:
        """Two deans approve the same credential at once, one on each server."""
        for server, dean in enumerate(("dean.business", "dean.deputy")):
            self.send(f"approve {cid}", server, dean, "POST", f"/credentials/{cid}/gates/{GATE}/decisions",
                      {"decision": "approve"})

    def everyday(self, n: int) -> None:
        """What else people do meanwhile: a new calendar address, what waits for them, the timers due."""
        server = n % 2
        self.send("calendar", server, "pm.business", "POST", "/me/calendar")
        self.send("approvals", 1 - server, "dean.business", "GET", "/me/approvals")
        self.send("timers", server, "dean.deputy", "GET", "/timers?due=true")

    def answers(self) -> list[Answer]:
        done = [future.result(timeout=120) for future in self.futures]
        self.pool.shutdown()
        return done


def seed_batch(services: Services, count: int, on_each: Callable[[int], None] = lambda _: None) -> list[int]:
    made = []
    for _ in range(count):
        made.append(at_feasibility(services))
        on_each(made[-1])
    return made


def quiet(services: Services, mail: MailServer) -> dict[str, Any]:
    """Wait until nothing due is left: no timer due or running, no message waiting; returns what is left."""
    deadline = time.monotonic() + 90
    while True:
        now = datetime.now(UTC)
        with services.database.begin_read() as conn:
            timers = conn.execute(select(func.count()).select_from(TIMER).where(
                (TIMER.c.status == "running") | ((TIMER.c.status == "pending") & (TIMER.c.due_at <= now)))).scalar()
            outbox: dict[str, int] = dict(conn.execute(select(OUTBOX.c.status, func.count())
                                                       .group_by(OUTBOX.c.status)).all())
        left = {"timers due or running": timers, "outbox": outbox, "received": len(mail.received)}
        if not timers and set(outbox) <= {"sent"} and len(mail.received) >= outbox.get("sent", 0):
            return left
        if time.monotonic() > deadline:
            raise AssertionError(f"the processes did not finish the work due: {left}")
        time.sleep(0.2)


@pytest.mark.postgres
def test_two_servers_and_two_schedulers_share_one_database_under_load(pg_url: str, tmp_path: Path) -> None:
    mail = MailServer(free_port())
    mail.start()
    past = ManualClock(datetime.now(UTC) - timedelta(days=30))
    services = Services.start(settings_for(pg_url, tmp_path), past)
    try:
        load_org(services, ORG + DEPUTY)
        tokens = {user: services.auth.create_token(services.people.user_id(user), "load").token
                  for user in ("dean.business", "dean.deputy", "pm.business")}
        first = seed_batch(services, BATCH)

        with processes(environment(pg_url, tmp_path, mail.port), tmp_path) as servers:
            load = Load(servers, tokens)
            for n, cid in enumerate(first):
                load.race(cid)
                load.everyday(n)
            # More credentials whose timers are due at once, while the load runs; every other one is raced for.
            second = seed_batch(services, BATCH, on_each=lambda cid: load.race(cid) if cid % 2 else None)
            answers = load.answers()
            left = quiet(services, mail)

        approvals = Counter[tuple[str, int]]((a.what, a.status) for a in answers if a.what.startswith("approve"))
        raced = [cid for cid in first + second if f"approve {cid}" in {a.what for a in answers}]
        assert [a for a in answers if a.status >= 500] == []
        for cid in raced:  # exactly one dean moved it on; the other was told the gate had closed
            assert approvals[(f"approve {cid}", 201)] == 1 and approvals[(f"approve {cid}", 409)] == 1, approvals
        refusals = [a.body["detail"] for a in answers if a.status == 409]
        assert refusals and all("Feasibility approval is not open while the credential is in Design" in detail
                                for detail in refusals), refusals
        assert {a.status for a in answers if not a.what.startswith("approve")} <= {200, 201}
        assert_states(services, first + second, raced)
        assert_timers_fired_once(services, first + second)
        assert_sent_once(services, mail, left)
    finally:
        services.close()
        mail.stop()


def assert_states(services: Services, seeded: list[int], raced: list[int]) -> None:
    with services.database.begin_read() as conn:
        states = dict(conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.state)).all())
        decisions = Counter(conn.execute(select(EVENT.c.credential_id).where(EVENT.c.kind == "decision")).scalars())
    assert {cid for cid in seeded if states[cid] == "design"} == set(raced)
    assert dict(decisions) == dict.fromkeys(raced, 1)


def assert_timers_fired_once(services: Services, seeded: list[int]) -> None:
    """Each seeded credential's two timers were due: each fired once, in the history, or was cancelled because
    an approval moved the credential on first."""
    with services.database.begin_read() as conn:
        timers = list(conn.execute(select(TIMER).where(TIMER.c.credential_id.in_(seeded))))
        states = dict(conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.state)).all())
        fired = Counter((e.credential_id, e.details["timer"]) for e in conn.execute(
            select(EVENT.c.credential_id, EVENT.c.details).where(EVENT.c.actor.like("timer:%"))))
    assert len(timers) == 2 * len(seeded)
    assert {t.key for t in timers} == {"feasibility_reminder", "feasibility_escalation"}
    done = {(t.credential_id, t.key) for t in timers if t.status == "done"}
    assert done, "no timer fired"
    assert dict(fired) == dict.fromkeys(done, 1)
    for timer in timers:
        if timer.status != "done":
            assert timer.status == "cancelled" and states[timer.credential_id] == "design", timer


def assert_sent_once(services: Services, mail: MailServer, left: dict[str, Any]) -> None:
    with services.database.begin_read() as conn:
        sent = set(conn.execute(select(OUTBOX.c.message_id).where(OUTBOX.c.status == "sent")).scalars())
        kinds = set(conn.execute(select(OUTBOX.c.kind).distinct()).scalars())
    received = [message_id(r.message) for r in mail.received]
    duplicates = [mid for mid, n in Counter(received).items() if n > 1]
    assert duplicates == [], duplicates
    assert set(received) == sent, left
    assert {"reminder", "escalation", "decided", "item_assigned"} <= kinds  # timers and approvals both wrote mail


def test_serve_refuses_several_workers_on_sqlite_and_names_a_bad_worker_setting(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATA_DIR": str(tmp_path / "data"), "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS)}
    serve = [sys.executable, "-m", "workflow.cli", "serve"]
    refused = subprocess.run([*serve, "--workers", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: 2 workers on SQLite: it takes one writer at a time"), refused.stderr
    assert "move to PostgreSQL" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened

    wrong = subprocess.run(serve, env=env | {"WORKFLOW_WORKERS": "0"}, capture_output=True, text=True, timeout=60)
    assert (wrong.returncode, wrong.stderr) == (1, "error: WORKFLOW_WORKERS: Input should be greater than or equal "
                                                   "to 1\n")


@pytest.mark.postgres
def test_serve_warns_when_its_workers_could_open_more_connections_than_postgresql_accepts(pg_url: str) -> None:
    settings = Settings(database_url=pg_url, pool_size=10)  # up to 30 connections per process
    database = Database.from_settings(settings)
    try:
        with database.begin_read() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            usable = limit - int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
        fits, too_many = usable // 30, usable // 30 + 1
        assert connection_budget(database, settings, fits) is None
        warning = connection_budget(database, settings, too_many)
    finally:
        database.dispose()
    assert warning == (f"{too_many} worker(s) × 30 connections (3 × WORKFLOW_POOL_SIZE) = {too_many * 30}, more than "
                       f"the {usable} PostgreSQL accepts (max_connections {limit}); lower --workers or "
                       "WORKFLOW_POOL_SIZE, or raise max_connections")
