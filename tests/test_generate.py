"""``workflow demo generate``: a consortium and credentials with years of history that the services and the audit
accept as their own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import DEFINITIONS, POSTGRES_URL, ROOT, settings_for
from tests.databases import postgres_schema
from tests.steps import tick
from workflow.cli import app
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.definitions.graph import edges
from workflow.demo.generate import generate
from workflow.engine.timers import plan
from workflow.services.access import Caller
from workflow.services.audit import verify_database
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, TIMER

SYSTEM = Caller.system("test")
NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """200 credentials over ten years, generated once per database for the tests of this module."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("set WORKFLOW_TEST_POSTGRES_URL to run against PostgreSQL")
    folder = tmp_path_factory.mktemp("generated")
    with ExitStack() as stack:
        url = f"sqlite:///{folder / 'workflow.db'}" if request.param == "sqlite" else \
            stack.enter_context(postgres_schema(POSTGRES_URL))
        settings = settings_for(url, folder)
        services = Services.start(settings, ManualClock(NOW))
        stack.callback(services.close)
        report = generate(services, credentials=200, years=10, seed=7, batch=64)
        assert report.credentials == 200 and report.events > 200 * 5
        yield services


def test_every_state_is_represented_and_each_history_explains_its_state(generated: Services) -> None:
    definition = generated.definitions.engine("microcredential").definition
    moves = {(e.trigger, e.source, e.dest) for e in edges(definition)}
    now = generated.clock.now()
    with generated.database.begin_read() as conn:
        credentials = {row.id: row for row in conn.execute(select(CREDENTIAL))}
        history: dict[int, list] = defaultdict(list)
        for event in conn.execute(select(EVENT).order_by(EVENT.c.credential_id, EVENT.c.seq)):
            history[event.credential_id].append(event)
        pending = conn.execute(select(TIMER).where(TIMER.c.status == "pending")).all()
    assert {row.state for row in credentials.values()} == set(definition.states)
    for cid, row in credentials.items():
        events = history[cid]
        assert [e.seq for e in events] == list(range(1, row.version + 1)), cid
        assert events[0].kind == "created" and events[0].to_state == "ideation"
        assert all(a.at <= b.at for a, b in pairwise(events)), cid
        assert now - timedelta(days=3653) <= events[0].at and events[-1].at <= now
        state = "ideation"
        for event in events[1:]:
            if event.to_state is not None:
                assert event.from_state == state and (event.trigger, state, event.to_state) in moves, (cid, event)
                state = event.to_state
        assert row.state == state, cid
        assert row.updated_at == events[-1].at and row.created_at == events[0].at
    for timer in pending:  # what the timer service plans for the state the credential is in, none overdue
        row = credentials[timer.credential_id]
        planned = {p.key: p for p in plan(definition, state=row.state, entered_at=row.state_entered_at,
                                          data=row.data, now=row.state_entered_at,
                                          days=generated.settings.days)}
        assert timer.key in planned and timer.due_at == planned[timer.key].due_at and timer.due_at > now
    assert {t.key for t in pending} >= {"content_review_due", "feasibility_reminder"}


def test_the_history_verifies_and_rows_are_those_the_services_write(generated: Services) -> None:
    report = verify_database(generated.database)
    assert report.ok, report.findings[:3]
    assert report.credentials == 200
    with generated.database.begin_read() as conn:
        kinds = {row.kind for row in conn.execute(select(EVENT.c.kind).distinct())}
        verdicts = {row.verdict for row in conn.execute(select(GATE_DECISION.c.verdict).distinct())}
        entries = conn.execute(select(CHECKLIST_ENTRY).limit(1)).one()
        timer_events = conn.execute(select(EVENT).where(EVENT.c.actor.like("timer:%"))).all()
    assert {"created", "checklist", "data", "decision", "transition", "reminder", "warning"} <= kinds
    assert verdicts == {"approve", "request_changes"}
    assert entries.done and entries.actor
    assert all(e.details["timer"].split("@")[0] == e.actor.removeprefix("timer:") for e in timer_events)


def test_the_services_read_what_was_generated(generated: Services) -> None:
    with generated.database.begin_read() as conn:
        ids = list(conn.execute(select(CREDENTIAL.c.id).order_by(CREDENTIAL.c.id)).scalars())
    for cid in ids:  # every credential opens, with its checklist, gates and possible moves
        detail = generated.views.get(cid, by=SYSTEM)
        assert detail.version == len(generated.views.history(cid, by=SYSTEM))
    dean = generated.access.caller_by_name("dean.okafor")
    waiting = generated.inbox.approvals_waiting(by=dean, limit=200)
    business = generated.access.tree().below([generated.people.unit_id("business")])
    assert waiting and all(w["role"] == "dean" and w["state"] in {"feasibility", "launch", "review", "sunset"}
                           for w in waiting)
    for item in waiting:
        assert generated.views.get(item["credential_id"], by=dean).org_unit_id in business
    rows, total = generated.views.search(by=dean, limit=200)
    assert 0 < total < 200 and {r.org_unit_id for r in rows} <= business
    delivering, count = generated.views.search(by=SYSTEM, state="delivery")
    assert count > 0 and {r.state for r in delivering} == {"delivery"}
    # a generated credential moves on like any other
    feasibility = next(w for w in waiting if w["state"] == "feasibility")
    tick(generated, feasibility["credential_id"])
    result = generated.credentials.decide(credential_id=feasibility["credential_id"], gate="feasibility_approval",
                                          verdict="approve", by=dean)
    assert result.fired is not None and result.fired.dest == "design"
    assert verify_database(generated.database, [feasibility["credential_id"]]).ok


def test_inboxes_and_task_lists_hold_exactly_what_each_credential_shows(generated: Services) -> None:
    dean = generated.access.caller_by_name("dean.okafor")
    registrar = generated.access.caller_by_name("reg.lopez")
    waiting, tasks = set(), set()
    for who, into in ((dean, waiting), (registrar, tasks)):
        offset, total = 0, 1
        while offset < total:
            rows, total = generated.views.search(by=who, limit=200, offset=offset)
            offset += len(rows)
            for row in rows:
                detail = generated.views.get(row.id, by=who)
                if who is dean:
                    into.update((row.id, gate.gate) for gate in detail.gates for a in gate.approvers
                                if a.role == "dean" and a.approvals < a.needed
                                and (gate.open_stage is None or a.stage <= gate.open_stage))
                else:
                    into.update((row.id, item.key) for item in detail.checklist
                                if item.owner == "registrar" and not item.done)
    assert waiting and tasks
    assert {(w["credential_id"], w["gate"]) for w in generated.inbox.approvals_waiting(by=dean, limit=200)
            } == waiting
    assert {(t["credential_id"], t["item"]) for t in generated.inbox.tasks(by=registrar, limit=500)} == tasks


def test_the_same_seed_gives_the_same_histories_whatever_the_batches(tmp_path: Path, clock: ManualClock) -> None:
    heads = []
    for name, batch in (("a", 500), ("b", 7)):
        settings = Settings(environment="test", database_url=f"sqlite:///{tmp_path / name}.db",
                            definitions_dir=DEFINITIONS, notifications_dir=ROOT / "notifications")
        started = Services.start(settings, clock)
        try:
            generate(started, credentials=40, years=5, seed=3, batch=batch)
            with started.database.begin_read() as conn:
                heads.append(conn.execute(select(CREDENTIAL.c.chain_hash).order_by(CREDENTIAL.c.id)).all())
        finally:
            started.close()
    assert heads[0] == heads[1] and len(heads[0]) == 40




def test_the_command_shows_progress_and_what_it_wrote(run) -> None:  # type: ignore[no-untyped-def]
    run("db", "upgrade")
    out = run("demo", "generate", "--credentials", "30", "--years", "3").stdout
    assert "generating 30 credentials" in out
    assert "generated 30 credentials with " in out and " rows/s" in out
    assert "by state: " in out and "ideation " in out
    listed = run("credentials", "list", "--as", "dean.moreau", "--limit", "100").stdout.strip().splitlines()
    assert listed[-1] == f"({len(listed) - 1} of {len(listed) - 1})" and len(listed) > 1


def test_no_credentials_and_bad_arguments_get_plain_messages(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"WORKFLOW_DATA_DIR": str(tmp_path / "data"), "WORKFLOW_DATABASE_URL": "",
           "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS),
           "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}

    def invoke(*args: str, code: int) -> str:
        result = runner.invoke(app, ["demo", "generate", *args], env=env)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert "generated 0 credentials with 0 events" in invoke("--credentials", "0", code=0)
    assert "error: --credentials: must be between 0 and 10,000,000, not -5" in invoke("--credentials", "-5", code=1)
    assert "error: --years: must be between 1 and 50, not 0" in invoke("--credentials", "9", "--years", "0", code=1)
    assert "error: --batch: must be at least 1" in invoke("--credentials", "9", "--batch", "0", code=1)
    assert "Invalid value for '--credentials'" in invoke("--credentials", "many", code=2)
    assert "Missing option '--credentials'" in invoke(code=2)
