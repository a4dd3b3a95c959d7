"""A database made by the previous release (0.1.0, kept as a backup in ``fixtures/``) restores into this one, its
hash chains still verify, and its credentials carry on: history written before a change of the code stays trusted.
Its 882 events gain one more per credential (45): the upgrade to schema 0010 folds the decisions, checklist
entries and data the release kept outside the chain into it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.services.audit import verify_database
from workflow.store.backup import restore
from workflow.store.database import Database
from workflow.store.migrate import upgrade

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.backup"


def test_previous_release_restores_verifies_and_carries_on(run) -> None:  # type: ignore[no-untyped-def]
    restored = run("restore", str(FIXTURE))
    assert "credential" in restored.stdout

    verified = run("audit", "verify")
    assert verified.stdout.startswith("ok: 45 credentials, 927 events verified")

    changed = run("credentials", "set", "1", "purpose=Employers asked again", "--as", "pm.chen")
    assert "now at version 3" in changed.stdout
    again = run("audit", "verify")
    assert again.stdout.startswith("ok: 45 credentials, 928 events verified")


def test_previous_release_tampering_is_still_caught(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("restore", str(FIXTURE))
    database = tmp_path / "data" / "workflow.db"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE event SET comment = 'rewritten' WHERE id = (SELECT min(id) FROM event WHERE seq = 2)")
    result = run("audit", "verify", ok=False)
    assert "was edited" in result.stdout + result.stderr


def test_previous_release_carries_on_on_either_database(database_url: str, settings: Settings,
                                                         clock: ManualClock) -> None:
    target = Database(database_url)
    try:
        restore(target, FIXTURE)  # at the release's own schema revision
        upgrade(target)  # then this version's migrations, as `workflow db upgrade` does
    finally:
        target.dispose()
    services = Services.start(settings, clock, migrate=False)
    try:
        before = verify_database(services.database)
        assert before.ok and (before.credentials, before.events) == (45, 927)

        pm = services.access.caller_by_name("pm.chen")
        services.credentials.update(credential_id=1, changes={"purpose": "Employers asked again"}, by=pm)
        after = verify_database(services.database)
        assert after.ok and (after.credentials, after.events) == (45, 928)
        assert services.views.get(1, by=pm).version == 3
        fold, data = services.views.history(1, by=pm)[-2:]
        assert data.kind == "data" and (fold.kind, fold.actor) == ("fold", "system")
        assert fold.summary == "Decisions, checklist and information as they stood at the upgrade, kept in the history"
    finally:
        services.close()
