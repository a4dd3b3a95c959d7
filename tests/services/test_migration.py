"""Migrating a generated population of running credentials to a new version of their definition: the plan a dry
run shows is what is applied; afterwards every credential's state is where its last event put it, every pending
timer is where the plan said, and the hash chains verify; a plan that would leave credentials in a state the new
version lacks is refused and changes nothing."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import settings_for
from tests.migrating import MAPPING, publish_version_2, state_of_database
from tests.walking import SYSTEM
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.definitions.migration_map import parse_mapping
from workflow.demo.generate import generate
from workflow.errors import InvalidDefinition
from workflow.services.access import Caller
from workflow.services.audit import verify_database
from workflow.services.migration import MigrationRefused
from workflow.store.tables import CREDENTIAL, EVENT, TIMER

ROOT = Path(__file__).resolve().parents[2]
POPULATION = 1500


@pytest.fixture
def generated(database_url: str, tmp_path: Path, clock: ManualClock):  # type: ignore[no-untyped-def]
    """A generated consortium's credentials in every state, with pending timers, on version 1; the definitions
    folder is the test's own, so that version 2 can be published into it."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    for name in ("microcredential", "university", "enrolment"):
        shutil.copy(ROOT / "definitions" / f"{name}.yaml", folder)
    services = Services.start(settings_for(database_url, tmp_path / "data", definitions_dir=folder), clock)
    try:
        generate(services, credentials=POPULATION, years=3, seed=7)
        yield services, folder
    finally:
        services.close()


def test_the_dry_run_plan_is_what_is_applied_and_everything_lands_where_it_said(generated) -> None:  # type: ignore[no-untyped-def]
    services, folder = generated
    assert publish_version_2(services, folder) == 2
    mapping = parse_mapping(MAPPING, file="mapping.yaml")
    plan = services.migrations.plan("microcredential", 2, mapping)
    with services.database.begin_read() as conn:
        running = conn.execute(select(CREDENTIAL.c.state)).scalars().all()
    # one credential in build has the QA office's approval (stage 1) and waits for the council's: it keeps counting
    approved = _approve_stage_one(services, [p.id for p in plan.credentials if p.from_state == "build"])
    asked = next(p.id for p in plan.credentials if p.from_state == "feasibility")
    services.credentials.decide(credential_id=asked, gate="feasibility_approval", role="dean",
                                verdict="request_changes", comment="Costs first", by=Caller.system("dean.test"))
    plan = services.migrations.plan("microcredential", 2, mapping)
    assert next(p for p in plan.credentials if p.id == approved).decisions_kept == (
        "governance_signoff: approve by qa.test as qa_office",)
    states = {p.from_state for p in plan.credentials}
    assert {"ideation", "feasibility", "design", "build", "launch", "delivery", "review", "on_hold"} <= states
    assert len(plan.credentials) + plan.staying == len(running) and plan.staying > 0 and not plan.refused
    assert sum(1 for p in plan.credentials for t in p.timers if t.after is not None) > POPULATION / 4

    # timers keep their meaning: the feasibility reminder's interval changed (14 → 10 days), nothing else did
    for p in plan.credentials:
        for move in p.timers:
            if move.key == "feasibility_reminder" and move.before is not None:
                assert move.after == move.before - timedelta(days=4)
            elif move.before is not None:
                assert move.after == move.before, (p.id, move)
    moved = [p for p in plan.credentials if p.from_state == "build"]
    assert moved and all(p.to_state == "build_and_test" for p in moved)
    feasibility = [p for p in plan.credentials if p.from_state == "feasibility"]
    assert all("funding_applied" in p.items_dropped for p in feasibility)
    assert any(p.decisions_invalidated for p in feasibility) or not any(p.decisions_kept for p in feasibility)
    assert all(not any(d.startswith("feasibility_approval") for d in p.decisions_kept) for p in feasibility)
    # the gate asks for more than its approver saw: their request for changes no longer counts
    assert next(p for p in feasibility if p.id == asked).decisions_invalidated == (
        "feasibility_approval: request_changes by dean.test as dean",)
    assert not any(p.decisions_invalidated for p in plan.credentials if p.from_state in ("review", "launch"))
    design = [p for p in plan.credentials if p.from_state == "design"]
    assert all(any(t.key == "design_reminder" and t.before is None for t in p.timers) for p in design)

    applied = services.migrations.apply(plan, mapping)
    assert applied.migrated == list(plan.credentials) and not applied.replanned

    planned = {p.id: p for p in plan.credentials}
    with services.database.begin_read() as conn:
        rows = conn.execute(select(CREDENTIAL)).all()
        last = {r.credential_id: r for r in conn.execute(
            select(EVENT).where(EVENT.c.seq == select(CREDENTIAL.c.chain_seq).where(
                CREDENTIAL.c.id == EVENT.c.credential_id).scalar_subquery()))}
        pending: dict[int, dict[str, object]] = {}
        for t in conn.execute(select(TIMER).where(TIMER.c.status == "pending")):
            pending.setdefault(t.credential_id, {})[t.key] = t.due_at
    for row in rows:
        if row.id not in planned:
            assert row.definition_version == 1  # closed histories keep their version
            continue
        p = planned[row.id]
        event = last[row.id]
        assert (row.definition_version, row.state) == (2, p.to_state)
        assert event.kind == "migrated" and event.to_state == row.state
        assert event.details == {"definition": "microcredential", "from_version": 1, "to_version": 2,
                                 **p.summary()}
        assert pending.get(row.id, {}) == {t.key: t.after for t in p.timers if t.after is not None}
    assert verify_database(services.database).ok

    # and the credentials go on under version 2: a migrated one in build_and_test signs off as before
    assert services.migrations.plan("microcredential", 2, mapping).credentials == ()
    some = moved[0].id
    assert services.views.get(some, by=SYSTEM).state_title == "Build and test"


def _approve_stage_one(services: Services, candidates: list[int]) -> int:
    for cid in candidates:
        detail = services.views.get(cid, by=SYSTEM)
        if detail.data.get("credit_bearing") is True and not any(g.decisions for g in detail.gates):
            services.credentials.decide(credential_id=cid, gate="governance_signoff", role="qa_office",
                                        verdict="approve", by=Caller.system("qa.test"))
            assert services.views.get(cid, by=SYSTEM).state == "build"
            return cid
    raise AssertionError("no credit-bearing credential waits in build")


def test_a_plan_with_unmapped_states_is_refused_with_the_list_and_changes_nothing(generated) -> None:  # type: ignore[no-untyped-def]
    services, folder = generated
    publish_version_2(services, folder)
    before = state_of_database(services)
    plan = services.migrations.plan("microcredential", 2)
    refused = plan.refused
    assert refused and {p.from_state for p in refused} == {"build"} | (
        {"on_hold"} if any(p.from_state == "on_hold" for p in refused) else set())
    assert all("which the new version does not have" in (p.problem or "") for p in refused)
    with pytest.raises(MigrationRefused) as caught:
        services.migrations.apply(plan)
    assert f"{len(refused)} credential(s) cannot be migrated: #{refused[0].id} " in str(caught.value)
    assert state_of_database(services) == before

    wrong = parse_mapping("states:\n  biuld: build_and_test\n", file="mapping.yaml")
    with pytest.raises(InvalidDefinition) as bad:
        services.migrations.plan("microcredential", 2, wrong)
    assert str(bad.value.problems[0]) == ("mapping.yaml:2: [unknown-state] 'biuld' is not a state of version 1 — "
                                          "did you mean 'build'?")
    assert state_of_database(services) == before
