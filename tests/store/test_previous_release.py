"""A database made by the previous release (0.1.0, kept as a backup in ``fixtures/``) restores into this one, its
hash chains still verify, and its credentials carry on: history written before a change of the code stays trusted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.backup"


def test_previous_release_restores_verifies_and_carries_on(run) -> None:  # type: ignore[no-untyped-def]
    restored = run("restore", str(FIXTURE))
    assert "credential" in restored.stdout

    verified = run("audit", "verify")
    assert verified.stdout.startswith("ok: 45 credentials, 882 events verified")

    changed = run("credentials", "set", "1", "purpose=Employers asked again", "--as", "pm.chen")
    assert "now at version 2" in changed.stdout
    again = run("audit", "verify")
    assert again.stdout.startswith("ok: 45 credentials, 883 events verified")


def test_previous_release_tampering_is_still_caught(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("restore", str(FIXTURE))
    database = tmp_path / "data" / "workflow.db"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE event SET comment = 'rewritten' WHERE id = (SELECT min(id) FROM event WHERE seq = 2)")
    result = run("audit", "verify", ok=False)
    assert "was edited" in result.stdout + result.stderr
