"""Backups restore every row of every table, on SQLite and PostgreSQL and from one to the other, and the restored
service carries on; damaged, foreign or too-new files and targets that hold data are refused, leaving it as it was."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, select, update

from tests.conftest import POSTGRES_URL, settings_for
from tests.databases import postgres_schema
from tests.organisation import load_org
from tests.steps import SYSTEM, at_feasibility, tick
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.demo.college import PASSWORD, seed
from workflow.errors import BackupError
from workflow.services.orgfile import parse_org
from workflow.store import backup as backup_module
from workflow.store.backup import backup, restore
from workflow.store.database import Database
from workflow.store.migrate import alembic_config, upgrade
from workflow.store.people import ORG_UNIT

Rows = dict[str, list[dict[str, Any]]]

# A faculty moved under a unit created after it: restoring must put the newer parent in before its child.
REORGANISED = """
units:
  - {key: academic, name: Academic Affairs, kind: institution}
  - {key: business, name: Faculty of Business, kind: faculty, parent: academic}
"""

@contextmanager
def started(url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    services = Services.start(settings_for(url, tmp_path / "data"), clock)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def fresh_database(kind: str, tmp_path: Path, name: str) -> Iterator[str]:
    """An empty database of ``kind`` (``sqlite`` or ``postgres``), apart from the test's own."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / name}"
    else:
        with postgres_schema(POSTGRES_URL) as url:
            yield url


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def fill(org: Services, clock: ManualClock) -> None:
    """The demo college, walked by its people; then a reorganisation, a token, a session, a calendar feed, a
    delegation, and a month later the timers that came due (reminders, escalations, their mail)."""
    seed(org)
    org.people.load(parse_org(REORGANISED, file="reorg.yaml", known_roles=org.people.known_roles), by=SYSTEM)
    dean = org.people.user_id("dean.okafor")
    org.auth.create_token(dean, "laptop")
    org.auth.start_session(dean)
    org.auth.new_calendar_token(dean)
    org.people.delegate(to_username="dean.singh", starts_on=date(2026, 9, 10), ends_on=date(2026, 9, 20),
                        by=org.access.caller_by_name("dean.okafor"))
    clock.advance(timedelta(days=45))
    assert org.timers.run_due() > 0


def table_rows(url: str) -> Rows:
    """Every row of every table (reflected, all columns), timestamps as UTC instants."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        with engine.connect() as conn:
            metadata.reflect(conn)
            return {name: [{k: _instant(v) for k, v in row._mapping.items()}
                           for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


def _instant(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def carries_on(org: Services, before: Rows) -> None:
    """The restored service: people sign in with their passwords, a credential waiting in feasibility moves on,
    and a new credential, token and session take fresh ids."""
    assert org.auth.authenticate("dean.okafor", PASSWORD) == org.people.user_id("dean.okafor")
    waiting = next(row["id"] for row in before["credential"] if row["state"] == "feasibility")
    tick(org, waiting)
    result = org.credentials.decide(credential_id=waiting, gate="feasibility_approval", verdict="approve",
                                    by=org.access.caller_by_name("dean.okafor"))
    assert result.fired is not None and result.fired.dest == "design"
    pm = org.access.caller_by_name("pm.garcia")
    cid = org.credentials.create(definition="microcredential", title="Drone mapping", by=pm,
                                 org_unit_id=org.people.unit_id("business"), data={"purpose": "Surveyors"})
    assert cid == max(row["id"] for row in before["credential"]) + 1
    tick(org, cid)
    assert org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=pm).dest == "feasibility"
    assert [e.kind for e in org.views.history(cid, by=pm)] == ["created", *["checklist"] * 4, "transition"]
    token = org.auth.create_token(org.people.user_id("pm.garcia"), "script")
    assert token.id == len(before["api_token"]) + 1
    assert org.auth.token_user(token.token) == org.people.user_id("pm.garcia")
    session, _ = org.auth.start_session(org.people.user_id("pm.garcia"))
    assert org.auth.session(session) is not None


def round_trip(source_url: str, target_url: str, tmp_path: Path, clock: ManualClock) -> None:
    with started(source_url, tmp_path, clock) as org:
        fill(org, clock)
        written = backup(org.database, tmp_path / "college.backup.gz", clock=clock)
    before = table_rows(source_url)
    busy = {"app_user", "org_unit", "role_assignment", "definition", "credential", "checklist_entry",
            "gate_decision", "event", "timer", "outbox", "api_token", "login_session", "delegation"}
    assert all(before[name] for name in busy), {name: len(before[name]) for name in busy}
    assert written.rows == {name: len(rows) for name, rows in before.items() if name != "alembic_version"}

    target = Database(target_url)
    try:
        restored = restore(target, written.path)
    finally:
        target.dispose()
    assert restored.rows == written.rows and restored.revision == written.revision
    after = table_rows(target_url)
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], f"table {name} differs after the restore"
    with started(target_url, tmp_path, clock) as org:
        carries_on(org, before)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows streamed and inserted a few at a time, so that every table crosses batch boundaries (and the moved
    faculty's parent arrives batches after it)."""
    monkeypatch.setattr(backup_module, "BATCH", 3)


@pytest.mark.usefixtures("small_batches")
def test_a_backup_restores_every_row_of_every_table_and_the_service_carries_on(
        database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    with fresh_database(kind_of(database_url), tmp_path, "restored.db") as target_url:
        round_trip(database_url, target_url, tmp_path, clock)


@pytest.mark.usefixtures("small_batches")
def test_a_sqlite_backup_restores_into_postgresql(pg_url: str, tmp_path: Path, clock: ManualClock) -> None:
    round_trip(f"sqlite:///{tmp_path / 'embedded.db'}", pg_url, tmp_path, clock)


def small_backup(url: str, tmp_path: Path, clock: ManualClock, name: str = "small.backup.gz") -> Path:
    """A backup of the test organisation with one credential in feasibility."""
    with started(url, tmp_path, clock) as org:
        load_org(org)
        at_feasibility(org)
        return backup(org.database, tmp_path / name, clock=clock).path


def test_a_target_holding_data_is_refused_unless_forced(database_url: str, tmp_path: Path,
                                                         clock: ManualClock) -> None:
    path = small_backup(database_url, tmp_path, clock)
    before = table_rows(database_url)
    with fresh_database(kind_of(database_url), tmp_path, "busy.db") as target_url:
        with started(target_url, tmp_path, clock) as org:
            load_org(org)
            for title in ("Welding basics", "Bookkeeping", "Forklift safety"):
                org.credentials.create(definition="microcredential", title=title, by=SYSTEM)
        held = table_rows(target_url)

        target = Database(target_url)
        try:
            with pytest.raises(BackupError, match=r"already holds rows \(.*credential: 3.*\).*--force"):
                restore(target, path)
            assert table_rows(target_url) == held

            restore(target, path, force=True)
        finally:
            target.dispose()
        assert table_rows(target_url) == before
        with started(target_url, tmp_path, clock) as org:
            pm = org.access.caller_by_name("pm.business")
            cid = org.credentials.create(definition="microcredential", title="Welding", by=pm,
                                         org_unit_id=org.people.unit_id("business"))
            assert cid == 2
            assert [c.title for c in org.views.search(by=SYSTEM)[0]] == ["Welding", "Supply-chain analytics"]


def test_an_older_backup_is_restored_at_its_own_revision_and_upgraded_after(
        database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    source = Database(database_url)
    try:
        older = [r.revision for r in ScriptDirectory.from_config(alembic_config(source)).walk_revisions()][1]
        upgrade(source, older)
        with source.begin() as conn:
            metadata = MetaData()
            metadata.reflect(conn)
            conn.execute(metadata.tables["org_unit"].insert(),
                         {"key": "northern", "name": "Northern College", "kind": "institution", "handles": []})
        written = backup(source, tmp_path / "last-month.gz", clock=clock)
    finally:
        source.dispose()
    assert written.revision == older and written.rows["org_unit"] == 1

    with fresh_database(kind_of(database_url), tmp_path, "upgraded.db") as target_url:
        target = Database(target_url)
        try:
            upgrade(target)  # an empty database at the newest schema
            restore(target, written.path)
            with target.begin_read() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == older
            upgrade(target)
        finally:
            target.dispose()
        with started(target_url, tmp_path, clock) as org:
            assert [u["key"] for u in org.people.units()] == ["northern"]
            assert org.credentials.create(definition="microcredential", title="Welding", by=SYSTEM) == 1


def test_rows_postgresql_refuses_roll_the_whole_restore_back(pg_url: str, tmp_path: Path,
                                                              clock: ManualClock) -> None:
    source = f"sqlite:///{tmp_path / 'lax.db'}"
    with started(source, tmp_path, clock) as org:  # SQLite keeps text longer than a column's declared length
        load_org(org)
        with org.database.begin() as conn:
            conn.execute(update(ORG_UNIT).where(ORG_UNIT.c.key == "business").values(name="Business " * 40))
        path = backup(org.database, tmp_path / "lax.gz", clock=clock).path
    target = Database(pg_url)
    try:
        with pytest.raises(BackupError, match=re.escape(str(path)) + r":\d+: table org_unit: the target refused a "
                                              r"row of lines \d+-\d+ \(value too long"):
            restore(target, path)
        assert inspect(target.engine).get_table_names() == []  # the schema it had begun is gone too
    finally:
        target.dispose()


def _lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        return stream.read().splitlines(keepends=True)


def _rewrite(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(lines)


def _first_row(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith("["))


def _short_row(path: Path) -> str:
    lines = _lines(path)
    i = _first_row(lines)
    lines[i] = json.dumps(json.loads(lines[i])[:-1]) + "\n"
    _rewrite(path, lines)
    return rf":{i + 1}: table \w+: a row of \d+ values, expected \d+"


def _bad_json(path: Path) -> str:
    lines = _lines(path)
    i = _first_row(lines) + 1
    lines[i] = lines[i][: len(lines[i]) // 2] + "\n"
    _rewrite(path, lines)
    return rf":{i + 1}: not valid JSON"


def _bad_value(path: Path) -> str:
    lines = _lines(path)
    i = next(i for i, line in enumerate(lines) if re.search(r'"20\d\d-\d\d-\d\dT', line) and line.startswith("["))
    lines[i] = re.sub(r'"20\d\d-\d\d-\d\dT[^"]*"', '"the day after tomorrow"', lines[i], count=1)
    _rewrite(path, lines)
    return rf":{i + 1}: table \w+: unreadable value"


def _no_end_line(path: Path) -> str:
    lines = _lines(path)
    _rewrite(path, lines[:-1])
    return rf":{len(lines) - 1}: the file ends after line {len(lines) - 1} without its end line: it is truncated"


def _cut_short(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return r":\d+: the file is truncated or corrupt"


def _scrambled(path: Path) -> str:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return r":\d+: "  # garbage, or a checksum that no longer matches: either way, where reading stopped


def _not_gzip(path: Path) -> str:
    path.write_text("id,title\n1,Supply-chain analytics\n")
    return r":1: the file is truncated or corrupt \(not a gzip file\)"


def _other_format(path: Path) -> str:
    lines = _lines(path)
    lines[0] = json.dumps(json.loads(lines[0]) | {"format_version": 2}) + "\n"
    _rewrite(path, lines)
    return r":1: backup format version 2 cannot be read by this version of workflow \(it reads version 1\)"


def _newer_schema(path: Path) -> str:
    lines = _lines(path)
    lines[0] = json.dumps(json.loads(lines[0]) | {"alembic_revision": "9001_from_the_future"}) + "\n"
    _rewrite(path, lines)
    return r":1: the backup's schema revision '9001_from_the_future' is newer than this version of workflow knows"


@pytest.mark.parametrize("damage", [_short_row, _bad_json, _bad_value, _no_end_line, _cut_short, _scrambled,
                                    _not_gzip, _other_format, _newer_schema])
def test_a_damaged_or_foreign_file_is_refused_without_touching_the_target(
        damage: Any, tmp_path: Path, clock: ManualClock) -> None:
    path = small_backup(f"sqlite:///{tmp_path / 'source.db'}", tmp_path, clock)
    expected = damage(path)
    target = Database(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with pytest.raises(BackupError, match=re.escape(str(path)) + expected):
            restore(target, path)
        assert inspect(target.engine).get_table_names() == []
    finally:
        target.dispose()


def test_nothing_is_written_from_a_database_without_a_schema_nor_read_from_a_missing_file(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(BackupError, match="has no schema yet"):
            backup(empty, tmp_path / "nothing.gz")
        assert not (tmp_path / "nothing.gz").exists()
        with pytest.raises(BackupError, match=re.escape(f"{tmp_path / 'nowhere.gz'}: no such backup file")):
            restore(empty, tmp_path / "nowhere.gz")
        assert inspect(empty.engine).get_table_names() == []
    finally:
        empty.dispose()


def test_backup_and_restore_from_the_command_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("db", "upgrade", data="college")
    run("demo", data="college")
    written = run("backup", "college.gz", data="college").stdout
    assert "written to college.gz" in written
    assert re.search(r"credential +12\n", written) and re.search(r"app_user +31\n", written)

    restored = run("restore", "college.gz", data="spare").stdout
    assert re.search(r"credential +12\n", restored) and "database is up to date" in restored
    listing = run("credentials", "list", "--as", "pm.garcia", data="spare").stdout
    assert "Supply-chain analytics" in listing and "Warehouse safety leadership" in listing

    refused = run("restore", "college.gz", ok=False, data="spare").stderr
    assert "error: the target database already holds rows" in refused and "--force" in refused
    (tmp_path / "damaged.gz").write_bytes((tmp_path / "college.gz").read_bytes()[:-200])
    damaged = run("restore", "damaged.gz", "--force", ok=False, data="spare").stderr
    assert re.search(r"error: damaged\.gz:\d+: the file is truncated or corrupt", damaged)
    assert re.search(r"credential +12\n", run("restore", "college.gz", "--force", data="spare").stdout)
