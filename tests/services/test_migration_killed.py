"""`workflow definitions migrate` killed half way (SIGKILL, no chance to clean up) leaves each credential wholly on
the old version or wholly on the new one — state, version, history and timers together — and the histories
verify; running it again finishes the rest."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import ROOT, settings_for
from tests.migrating import MAPPING, version_2
from workflow.clock import SystemClock
from workflow.context import Services
from workflow.demo.generate import generate
from workflow.services.audit import verify_database
from workflow.store.tables import CREDENTIAL, EVENT, TIMER

POPULATION = 1000  # enough that a kill lands half way (after 20 moved), small enough for every run


def _migrate(url: str, folder: Path, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKFLOW_DATABASE_URL": url, "WORKFLOW_DATA_DIR": str(tmp_path / "data"),
           "WORKFLOW_DEFINITIONS_DIR": str(folder), "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
    return subprocess.Popen([sys.executable, "-m", "workflow.cli", "definitions", "migrate", "microcredential",
                             "--to", "2", "--mapping", str(tmp_path / "mapping.yaml"), *args],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _on_version_2(services: Services) -> int:
    with services.database.begin_read() as conn:
        return int(conn.execute(select(func.count()).select_from(CREDENTIAL)
                                .where(CREDENTIAL.c.definition_version == 2)).scalar() or 0)


def test_a_migration_killed_half_way_leaves_each_credential_wholly_old_or_wholly_new(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "definitions"
    folder.mkdir()
    for name in ("microcredential", "university", "enrolment"):
        shutil.copy(ROOT / "definitions" / f"{name}.yaml", folder)
    (tmp_path / "mapping.yaml").write_text(MAPPING)
    services = Services.start(settings_for(database_url, tmp_path / "data", definitions_dir=folder), SystemClock())
    try:
        generate(services, credentials=POPULATION, years=3, seed=11)
        (folder / "microcredential.yaml").write_text(version_2())
        assert services.reload_definitions()["microcredential"] == 2
        v1 = services.definitions.engine("microcredential", 1).definition
        running = len(services.migrations.plan("microcredential", 2).credentials)

        child = _migrate(database_url, folder, tmp_path)
        deadline = time.monotonic() + 300
        while _on_version_2(services) < 20 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        assert child.returncode == -signal.SIGKILL
        halfway = _on_version_2(services)
        assert 20 <= halfway < running

        with services.database.begin_read() as conn:
            last = {r.credential_id: r for r in conn.execute(
                select(EVENT).where(EVENT.c.seq == select(CREDENTIAL.c.chain_seq).where(
                    CREDENTIAL.c.id == EVENT.c.credential_id).scalar_subquery()))}
            pending: dict[int, dict[str, object]] = {}
            for t in conn.execute(select(TIMER).where(TIMER.c.status == "pending")):
                pending.setdefault(t.credential_id, {})[t.key] = (t.due_at, t.state)
            rows = conn.execute(select(CREDENTIAL)).all()
        for row in rows:
            event = last[row.id]
            if row.definition_version == 2:  # wholly new: its event, state and timers as the plan said
                assert event.kind == "migrated" and event.details["to_version"] == 2
                assert row.state == event.to_state == event.details["to_state"]
                assert {k: due.isoformat() for k, (due, _) in pending.get(row.id, {}).items()} == {
                    k: t["after"] for k, t in event.details["timers"].items() if t["after"] is not None}
            else:  # wholly old: no migration event, a state and timers of version 1
                assert event.kind != "migrated" and row.state in v1.states
                assert all(state is None or state in v1.states for _, state in pending.get(row.id, {}).values())
        assert verify_database(services.database).ok

        again = _migrate(database_url, folder, tmp_path)
        out, err = again.communicate(timeout=600)
        assert again.returncode == 0, err
        assert f"migrated {running - halfway:,} credential(s)" in out
        assert _on_version_2(services) == running
        assert verify_database(services.database).ok
    finally:
        services.close()
