"""Timers fire exactly once across processes: two schedulers over one PostgreSQL database, a scheduler killed
mid-run and restarted, and timers that came due while nothing ran firing when the service starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import ROOT, settings_for
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.services.access import Caller
from workflow.store.tables import CREDENTIAL, EVENT, TIMER

TICKER = Path(__file__).parent / "ticker"
COUNT = 2000
PAST = datetime(2025, 1, 1, tzinfo=UTC)  # everything created "then" is long due now


def seeded(url: str, tmp_path: Path, count: int) -> Services:
    services = Services.start(settings_for(url, tmp_path, definitions_dir=TICKER), ManualClock(PAST))
    system = Caller.system("seed")
    for n in range(count):
        services.credentials.create(definition="ticker", title=f"Ticker {n}", by=system)
    return services


def scheduler_process(url: str, tmp_path: Path, name: str, lease: float = 2.0) -> subprocess.Popen[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATABASE_URL": url, "WORKFLOW_DEFINITIONS_DIR": str(TICKER),
           "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"),
           "WORKFLOW_DATA_DIR": str(tmp_path), "WORKFLOW_TIMER_LEASE_SECONDS": str(lease)}
    with (tmp_path / f"{name}.log").open("w") as log:  # the child keeps its own copy of the file
        return subprocess.Popen([sys.executable, "-m", "workflow.cli", "scheduler", "--once"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)


def handled(tmp_path: Path, name: str) -> int:
    out = (tmp_path / f"{name}.log").read_text()
    assert "Traceback" not in out, out
    return int(out.split("handled ")[-1].split()[0])


def assert_each_fired_once(services: Services, count: int) -> None:
    with services.database.begin_read() as conn:
        states = dict(conn.execute(select(CREDENTIAL.c.state, func.count()).group_by(CREDENTIAL.c.state)).all())
        statuses = dict(conn.execute(select(TIMER.c.status, func.count()).group_by(TIMER.c.status)).all())
        moves = conn.execute(select(EVENT.c.credential_id, func.count()).where(EVENT.c.kind == "transition")
                             .group_by(EVENT.c.credential_id)).all()
    assert states == {"ticked": count}
    assert statuses == {"done": count}
    assert len(moves) == count and {n for _, n in moves} == {1}


def test_two_schedulers_over_one_database_fire_each_of_2000_timers_once(pg_url: str, tmp_path: Path) -> None:
    services = seeded(pg_url, tmp_path, COUNT)
    try:
        first, second = scheduler_process(pg_url, tmp_path, "a"), scheduler_process(pg_url, tmp_path, "b")
        assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0
        assert handled(tmp_path, "a") + handled(tmp_path, "b") == COUNT
        assert handled(tmp_path, "a") > 0 and handled(tmp_path, "b") > 0  # both really took part
        assert_each_fired_once(services, COUNT)
    finally:
        services.close()


def test_a_scheduler_killed_mid_run_loses_and_doubles_nothing(pg_url: str, tmp_path: Path) -> None:
    services = seeded(pg_url, tmp_path, COUNT)
    try:
        victim = scheduler_process(pg_url, tmp_path, "victim", lease=2.0)
        deadline = time.monotonic() + 300
        while True:  # let it get properly under way, then kill it without warning
            with services.database.begin_read() as conn:
                done = conn.execute(select(func.count()).select_from(TIMER).where(TIMER.c.status == "done")).scalar()
            if (done or 0) >= COUNT // 10 or victim.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        with services.database.begin_read() as conn:
            left = dict(conn.execute(select(TIMER.c.status, func.count()).group_by(TIMER.c.status)).all())
        assert left.get("done", 0) < COUNT, "the scheduler finished before it could be killed"

        # Its claims run out after the lease; a restarted scheduler (two, even) take over what is left.
        time.sleep(2.5)
        again = scheduler_process(pg_url, tmp_path, "again")
        other = scheduler_process(pg_url, tmp_path, "other")
        assert again.wait(timeout=600) == 0 and other.wait(timeout=600) == 0
        assert_each_fired_once(services, COUNT)
        assert left.get("done", 0) + handled(tmp_path, "again") + handled(tmp_path, "other") >= COUNT
    finally:
        services.close()


def test_timers_that_came_due_while_nothing_ran_fire_when_the_service_starts(database_url: str,
                                                                               tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from workflow.web.app import create_app

    services = seeded(database_url, tmp_path, 5)  # due since 2025; no scheduler has run since
    assert isinstance(services.clock, ManualClock)
    services.clock.set(datetime(2026, 9, 1, tzinfo=UTC))  # the service starts again, long after
    settings = services.settings.model_copy(update={"scheduler_in_app": True, "timer_poll_seconds": 3600.0})
    app = create_app(settings, services=services)
    try:
        with TestClient(app, base_url="https://testserver"):
            assert app.state.scheduler.running
            deadline = time.monotonic() + 30
            while services.timers.counts()["by_status"].get("done", 0) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)  # the first poll runs at start-up, in the scheduler's thread
        assert not app.state.scheduler.running  # stopped with the app
        assert_each_fired_once(services, 5)
    finally:
        services.close()
