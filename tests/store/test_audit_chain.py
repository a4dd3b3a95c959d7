"""The history is tamper-evident: every event is chained to the one before it and the credential keeps the head,
so an edited, deleted, reordered or added row — or a state the history does not lead to — is reported at the
first broken link, by ``verify`` and by ``workflow audit verify`` (exit 1), on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, column, create_engine, delete, insert, select, table, text, update
from typer.testing import CliRunner

from tests.conftest import settings_for
from tests.steps import SYSTEM, at_feasibility
from workflow.cli import app
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.services.audit import Finding, verify, verify_database
from workflow.store.database import Database
from workflow.store.history import chain_rows
from workflow.store.migrate import alembic_config, upgrade
from workflow.store.tables import CREDENTIAL, EVENT, GENESIS
from workflow.store.types import JSONDocument, UTCDateTime


def walk(org: Services, clock: ManualClock) -> int:
    """A credential with every kind of history writer: creation, checklist, transitions, a timer's reminder, a
    data change with numbers and non-ASCII text, and an administrator's override."""
    cid = at_feasibility(org)
    clock.advance(timedelta(days=15, microseconds=123457))
    assert org.timers.run_due() >= 1  # the feasibility reminder, written by the timer
    org.credentials.update(credential_id=cid, changes={"credits": 1.5}, by=SYSTEM, comment="Crédits révisés ✓")
    org.credentials.update(credential_id=cid, changes={"credits": 3.0}, by=SYSTEM)
    org.credentials.override(credential_id=cid, trigger="approve_feasibility", by=org.access.caller_by_name("admin"),
                             comment="Approved by the dean in the council meeting")
    return cid


@pytest.fixture
def walked(org: Services, clock: ManualClock) -> tuple[int, int]:
    """Two credentials with their histories: the one the tests tamper with, and one left alone."""
    return walk(org, clock), walk(org, clock)


@pytest.fixture
def raw(database_url: str) -> Iterator[Engine]:
    """A plain connection to the same database, as someone editing rows by hand would have."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def findings(org: Services, **kwargs: Any) -> list[Finding]:
    report = verify_database(org.database, **kwargs)
    return report.findings


def cli(database_url: str, *args: str) -> Any:
    result = CliRunner().invoke(app, ["audit", "verify", *args], env={"WORKFLOW_DATABASE_URL": database_url})
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def seqs(raw: Engine, cid: int) -> list[tuple[int, str | None]]:
    with raw.connect() as conn:
        return [(r.seq, r.kind) for r in conn.execute(select(EVENT.c.seq, EVENT.c.kind).where(
            EVENT.c.credential_id == cid).order_by(EVENT.c.seq))]


def edit(raw: Engine, cid: int, seq: int, **values: Any) -> None:
    with raw.begin() as conn:
        assert conn.execute(update(EVENT).where(EVENT.c.credential_id == cid, EVENT.c.seq == seq)
                            .values(**values)).rowcount == 1


# -- an untouched history ------------------------------------------------------------------------------------


def test_a_lifecycle_with_timers_and_overrides_verifies_clean(org: Services, walked: tuple[int, int],
                                                               database_url: str, raw: Engine) -> None:
    cid, _ = walked
    kinds = [kind for _, kind in seqs(raw, cid)]
    assert {"created", "checklist", "transition", "reminder", "data", "override"} <= set(kinds)
    with raw.connect() as conn:
        head = conn.execute(select(CREDENTIAL.c.chain_seq, CREDENTIAL.c.chain_hash, CREDENTIAL.c.version)
                            .where(CREDENTIAL.c.id == cid)).one()
        last = conn.execute(select(EVENT.c.hash).where(EVENT.c.credential_id == cid, EVENT.c.seq == len(kinds))
                            ).scalar_one()
    assert (head.chain_seq, head.chain_hash) == (len(kinds), last) and head.version == len(kinds)

    report = verify_database(org.database)
    assert report.ok and report.credentials == 2 and report.events == 2 * len(kinds)
    result = cli(database_url)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ok: 2 credentials, {2 * len(kinds)} events verified"


def test_the_command_line_checks_one_credential_or_says_it_does_not_exist(walked: tuple[int, int],
                                                                           database_url: str, raw: Engine) -> None:
    cid, other = walked
    edit(raw, cid, 2, comment="nothing to see")
    result = cli(database_url, "--credential", str(other))
    assert result.exit_code == 0 and result.stdout.startswith("ok: 1 credentials,")
    result = cli(database_url, "--credential", "999")
    assert result.exit_code == 1 and "error: there is no credential #999" in result.stderr


def test_chain_rows_continues_a_chain_as_the_service_does(org: Services, walked: tuple[int, int],
                                                          raw: Engine) -> None:
    cid, _ = walked
    with raw.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(EVENT).where(EVENT.c.credential_id == cid)
                                                       .order_by(EVENT.c.seq))]
    stored = [(r["prev_hash"], r["hash"]) for r in rows]
    head = chain_rows(GENESIS, rows)
    assert [(r["prev_hash"], r["hash"]) for r in rows] == stored
    assert head == (len(rows), stored[-1][1])
    with pytest.raises(ValueError, match="consecutive seqs"):
        chain_rows(GENESIS, [rows[0], rows[2]])


# -- tampering, one kind per test ----------------------------------------------------------------------------


def test_an_edited_comment_is_reported_at_its_event(org: Services, walked: tuple[int, int], database_url: str,
                                                    raw: Engine, tmp_path: Path) -> None:
    cid, other = walked
    edit(raw, cid, 3, comment="Research was never done")
    assert findings(org) == [Finding(cid, 3, "edited", "event 3 was edited (its hash does not match its content)")]
    events = len(seqs(raw, cid)) + len(seqs(raw, other))
    env = {**os.environ, "WORKFLOW_DATABASE_URL": database_url, "WORKFLOW_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "workflow.cli", "audit", "verify"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [f"credential #{cid}: event 3 was edited (its hash does not match its "
                                          "content)", f"broken: 1 of 2 credentials ({events} events read)"]


def test_an_edited_destination_is_reported_at_its_event(org: Services, walked: tuple[int, int], database_url: str,
                                                        raw: Engine) -> None:
    cid, _ = walked
    moved = next(seq for seq, kind in seqs(raw, cid) if kind == "transition")
    edit(raw, cid, moved, to_state="design")
    assert [(f.credential_id, f.seq, f.reason) for f in findings(org)] == [(cid, moved, "edited")]
    result = cli(database_url)
    assert result.exit_code == 1
    assert f"credential #{cid}: event {moved} was edited (its hash does not match its content)" in result.stdout


def test_a_deleted_middle_event_is_reported_missing(org: Services, walked: tuple[int, int], database_url: str,
                                                    raw: Engine) -> None:
    cid, _ = walked
    with raw.begin() as conn:
        conn.execute(delete(EVENT).where(EVENT.c.credential_id == cid, EVENT.c.seq == 7))
    assert findings(org) == [Finding(cid, 7, "deleted", "event 7 is missing (deleted)")]
    result = cli(database_url)
    assert result.exit_code == 1 and f"credential #{cid}: event 7 is missing (deleted)" in result.stdout


def test_a_deleted_newest_event_is_caught_by_the_head(org: Services, walked: tuple[int, int], database_url: str,
                                                      raw: Engine) -> None:
    cid, _ = walked
    last = len(seqs(raw, cid))
    with raw.begin() as conn:
        conn.execute(delete(EVENT).where(EVENT.c.credential_id == cid, EVENT.c.seq == last))
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == cid).values(version=last - 1))
    assert [(f.seq, f.reason) for f in findings(org)] == [(last, "deleted")]
    result = cli(database_url)
    assert result.exit_code == 1
    assert (f"credential #{cid}: event {last} is missing (deleted): the history ends at event {last - 1} but the "
            f"credential recorded {last}") in result.stdout


def test_two_swapped_events_are_reported_out_of_order(org: Services, walked: tuple[int, int], database_url: str,
                                                      raw: Engine) -> None:
    cid, _ = walked
    with raw.begin() as conn:  # through a free seq, as the (credential, seq) key is unique
        for old, new in ((4, -1), (5, 4), (-1, 5)):
            conn.execute(update(EVENT).where(EVENT.c.credential_id == cid, EVENT.c.seq == old).values(seq=new))
    assert findings(org) == [Finding(cid, 4, "reordered", "event 4 is out of order (it was written as event 5)")]
    result = cli(database_url)
    assert result.exit_code == 1
    assert f"credential #{cid}: event 4 is out of order (it was written as event 5)" in result.stdout


def test_a_forged_event_with_a_valid_hash_is_caught_by_the_head(org: Services, walked: tuple[int, int],
                                                                database_url: str, raw: Engine) -> None:
    cid, _ = walked
    with raw.connect() as conn:
        last = conn.execute(select(EVENT).where(EVENT.c.credential_id == cid).order_by(EVENT.c.seq.desc())).first()
    assert last is not None
    forged = {"credential_id": cid, "seq": last.seq + 1, "at": last.at + timedelta(hours=1), "actor": "dean.business",
              "kind": "decision", "trigger": None, "from_state": None, "to_state": None, "comment": "Approved",
              "details": {"gate": "feasibility_approval", "verdict": "approve"}}
    chain_rows(last.hash, [forged])  # hashed correctly: only the head on the credential row gives it away
    with raw.begin() as conn:
        conn.execute(insert(EVENT), forged)
    assert findings(org) == [Finding(cid, last.seq + 1, "forged", f"event {last.seq + 1} was added after the last "
                                                                  f"event the credential recorded ({last.seq})")]
    result = cli(database_url)
    assert result.exit_code == 1 and f"credential #{cid}: event {last.seq + 1} was added" in result.stdout


def test_a_rewritten_history_is_caught_by_the_head(org: Services, walked: tuple[int, int], raw: Engine) -> None:
    cid, _ = walked
    with raw.begin() as conn:  # edit event 3 and re-hash it and everything after it
        rows = [dict(r._mapping) for r in conn.execute(select(EVENT).where(EVENT.c.credential_id == cid)
                                                       .order_by(EVENT.c.seq))]
        rows[2]["comment"] = "Research was never done"
        chain_rows(rows[1]["hash"], rows[2:])
        for row in rows[2:]:
            conn.execute(update(EVENT).where(EVENT.c.id == row["id"]).values(prev_hash=row["prev_hash"],
                                                                              hash=row["hash"], comment=row["comment"]))
    found = findings(org)
    assert found[0] == Finding(cid, len(rows), "forged", f"event {len(rows)} is not the last event the "
                                                         "credential recorded (the history was rewritten)")
    # the checklist row event 3 wrote still holds the note the rewritten event no longer says
    assert [(f.seq, f.reason, f.table) for f in found[1:]] == [(3, "edited", "checklist_entry")]
    assert "its note differs from event 3" in found[1].message


def test_a_state_its_history_does_not_lead_to_is_reported(org: Services, walked: tuple[int, int],
                                                          database_url: str, raw: Engine) -> None:
    cid, _ = walked
    with raw.begin() as conn:
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == cid).values(state="delivery"))
    last = len(seqs(raw, cid))
    assert findings(org) == [Finding(cid, last, "state", f"its state 'delivery' is not the one its history leads "
                                                         f"to ('design', event {last})")]
    assert cli(database_url).exit_code == 1


def test_small_pages_find_the_same_links_as_one_page(org: Services, walked: tuple[int, int], raw: Engine) -> None:
    cid, other = walked
    edit(raw, other, 9, actor="someone.else")
    with raw.begin() as conn:
        conn.execute(delete(EVENT).where(EVENT.c.credential_id == cid, EVENT.c.seq == 2))
    expected = [Finding(cid, 2, "deleted", "event 2 is missing (deleted)"),
                Finding(other, 9, "edited", "event 9 was edited (its hash does not match its content)")]
    events = len(seqs(raw, cid)) + len(seqs(raw, other))
    with org.database.begin_read() as conn:
        for batch in (1, 2, 3, len(seqs(raw, cid)), 5000):
            report = verify(conn, batch=batch)
            assert (report.findings, report.credentials, report.events) == (expected, 2, events), batch
        assert verify(conn, [other], batch=2).findings == expected[1:]


# -- existing databases --------------------------------------------------------------------------------------


def test_an_existing_history_is_chained_when_the_database_is_upgraded(database_url: str, tmp_path: Path,
                                                                      clock: ManualClock) -> None:
    database = Database(database_url)
    try:
        upgrade(database, "0004")
        with database.begin() as conn:
            _history_at_0004(conn)
        upgrade(database)
        report = verify_database(database)
        # Credential 3 never had an event: its chain is empty and sound, but nothing explains its state.
        unexplained = [Finding(3, 0, "state", "its state 'ideation' is not explained by its history (no event "
                                              "moved it)")]
        assert (report.findings, report.credentials, report.events) == (unexplained, 3, 5)
        with database.engine.connect() as conn:
            heads = conn.execute(text("SELECT id, chain_seq FROM credential ORDER BY id")).all()
        assert [tuple(h) for h in heads] == [(1, 3), (2, 2), (3, 0)]

        command.downgrade(alembic_config(database), "0004")  # keeps every row (no table is rebuilt)
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM event")).scalar() == 5
        upgrade(database)
        assert verify_database(database).findings == unexplained
    finally:
        database.dispose()

    services = Services.start(settings_for(database_url, tmp_path / "data"), clock)
    try:  # the service carries on from the migrated head
        services.credentials.update(credential_id=1, changes={"credits": 2}, by=SYSTEM)
        report = verify_database(services.database, [1, 2])
        assert report.ok and report.events == 6
    finally:
        services.close()


_OLD_CREDENTIAL = table("credential", *(column(name) for name in (
    "id", "title", "definition_name", "definition_version", "state", "previous_state", "version", "created_by")),
    column("data", JSONDocument), column("rounds", JSONDocument), *(column(name, UTCDateTime()) for name in (
        "created_at", "updated_at", "state_entered_at")))
_OLD_EVENT = table("event", *(column(name) for name in (
    "credential_id", "seq", "actor", "kind", "trigger", "from_state", "to_state", "comment")),
    column("at", UTCDateTime()), column("details", JSONDocument))


def _history_at_0004(conn: Connection) -> None:
    """Credentials and events as the 0004 schema held them (no hashes): two histories and a credential without."""
    at = datetime(2026, 3, 1, 9, 30, 15, 250001, tzinfo=UTC)
    conn.execute(insert(_OLD_CREDENTIAL), [
        {"id": cid, "title": f"Old {cid}", "definition_name": "microcredential", "definition_version": 1,
         "state": state, "previous_state": previous, "version": version, "created_by": "pm", "data": {},
         "rounds": {}, "created_at": at, "updated_at": at, "state_entered_at": at}
        for cid, state, previous, version in ((1, "feasibility", "ideation", 3), (2, "ideation", None, 2),
                                              (3, "ideation", None, 1))])
    events = [
        (1, 1, "created", None, None, "ideation", "", {"data": {"title": "Old 1"}}),
        (1, 2, "data", None, None, None, "Révisé — 2×", {"changes": {"credits": [None, 2.5], "hours": [1.0, 40]}}),
        (1, 3, "transition", "submit_for_feasibility", "ideation", "feasibility", "", {}),
        (2, 1, "created", None, None, "ideation", "", {}),
        (2, 2, "checklist", None, None, None, "note", {"item": "labour_market_research", "done": True}),
    ]
    conn.execute(insert(_OLD_EVENT), [
        {"credential_id": cid, "seq": seq, "at": at + timedelta(minutes=n), "actor": "pm", "kind": kind,
         "trigger": trigger, "from_state": source, "to_state": dest, "comment": comment, "details": details}
        for n, (cid, seq, kind, trigger, source, dest, comment, details) in enumerate(events)])
