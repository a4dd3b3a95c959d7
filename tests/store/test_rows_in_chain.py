"""Everything that opens a gate is in the tamper-evident chain: a decision, checklist or data row changed in SQL
behind the application's back is named by ``audit verify`` (inserted, edited or deleted), and a forged decision
row does not count toward its gate, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, insert, select, update
from typer.testing import CliRunner

from tests.steps import SYSTEM, at_build, at_feasibility
from workflow.cli import app
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict, TransitionNotAllowed
from workflow.services.access import Caller
from workflow.services.audit import verify_database
from workflow.store.backup import backup, restore
from workflow.store.database import Database
from workflow.store.migrate import upgrade
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION

DEAN = Caller.system("dean.business")
FIXTURE = Path(__file__).parent / "fixtures" / "release-0.1.0.backup"


@pytest.fixture
def raw(database_url: str) -> Iterator[Engine]:
    """A plain connection to the same database, as someone editing rows by hand would have."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def forged_approval(cid: int, at: Any, seq: int | None = None) -> dict[str, Any]:
    """A dean's approval of the feasibility gate, as someone with SQL access would insert it."""
    return {"credential_id": cid, "gate": "feasibility_approval", "round": 0, "role": "dean",
            "actor": "dean.business", "principal": "dean.business", "verdict": "approve", "comment": "",
            "seen": {}, "decided_at": at, "seq": seq}


def rows_of(raw: Engine, cid: int) -> tuple[Any, Any, dict[str, Any]]:
    with raw.connect() as conn:
        decision = conn.execute(select(GATE_DECISION).where(GATE_DECISION.c.credential_id == cid)).first()
        entry = conn.execute(select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id == cid)
                             .order_by(CHECKLIST_ENTRY.c.id)).first()
        data = conn.execute(select(CREDENTIAL.c.data).where(CREDENTIAL.c.id == cid)).scalar_one()
    return decision, entry, dict(data)


def test_inserted_edited_and_deleted_rows_are_each_named(org: Services, clock: ManualClock, database_url: str,
                                                         raw: Engine) -> None:
    inserted, edited, deleted, untouched = (at_build(org) for _ in range(4))
    assert verify_database(org.database).ok
    now = clock.now()
    with raw.begin() as conn:
        conn.execute(insert(GATE_DECISION), forged_approval(inserted, now))
        conn.execute(insert(CHECKLIST_ENTRY), {"credential_id": inserted, "item_key": "funding_applied", "round": 1,
                                               "done": True, "note": "", "actor": "finance.business",
                                               "updated_at": now})
        _, _, data = rows_of(raw, inserted)
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == inserted).values(data={**data, "fee": 99}))

        decision, entry, data = rows_of(raw, edited)
        conn.execute(update(GATE_DECISION).where(GATE_DECISION.c.id == decision.id).values(verdict="reject"))
        conn.execute(update(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.id == entry.id).values(done=False))
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == edited).values(
            data={**data, "purpose": "Something else"}))

        decision, entry, data = rows_of(raw, deleted)
        conn.execute(delete(GATE_DECISION).where(GATE_DECISION.c.id == decision.id))
        conn.execute(delete(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.id == entry.id))
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == deleted).values(
            data={k: v for k, v in data.items() if k != "purpose"}))

    report = verify_database(org.database)
    named = sorted((f.credential_id, f.table, f.reason) for f in report.findings)
    assert named == sorted([
        (inserted, "gate_decision", "inserted"), (inserted, "checklist_entry", "inserted"),
        (inserted, "credential", "inserted"),
        (edited, "gate_decision", "edited"), (edited, "checklist_entry", "edited"), (edited, "credential", "edited"),
        (deleted, "gate_decision", "deleted"), (deleted, "checklist_entry", "deleted"),
        (deleted, "credential", "deleted")])
    assert untouched not in {f.credential_id for f in report.findings}
    by = {(f.credential_id, f.table): str(f) for f in report.findings}
    assert "no event accounts for it (inserted)" in by[inserted, "gate_decision"]
    assert "approve on feasibility_approval round 0 by dean.business as dean" in by[inserted, "gate_decision"]
    assert "its verdict differs from event" in by[edited, "gate_decision"]
    assert "its done differs from event" in by[edited, "checklist_entry"]
    assert "field 'fee'" in by[inserted, "credential"] and "field 'purpose'" in by[edited, "credential"]
    assert "is gone (deleted)" in by[deleted, "gate_decision"]

    result = CliRunner().invoke(app, ["audit", "verify"], env={"WORKFLOW_DATABASE_URL": database_url})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("broken: 3 of 4 credentials")
    assert sorted(lines[:-1]) == sorted(str(f) for f in report.findings)
    assert f"credential #{inserted}: gate_decision row " in result.stdout


def test_a_forged_approval_does_not_open_the_gate(org: Services, clock: ManualClock, raw: Engine) -> None:
    cid = at_feasibility(org, leave_open=("funding_applied",))
    with raw.connect() as conn:  # a guess at a real event's seq does not make a row a decision either
        checklist_seq = conn.execute(select(EVENT.c.seq).where(EVENT.c.credential_id == cid,
                                                               EVENT.c.kind == "checklist")).scalars().first()
    with raw.begin() as conn:
        conn.execute(insert(GATE_DECISION), [forged_approval(cid, clock.now()),
                                             forged_approval(cid, clock.now(), checklist_seq)])
    clock.advance(timedelta(hours=1))
    org.credentials.set_item(credential_id=cid, item="funding_applied", done=True, by=Caller.system("finance"))

    with pytest.raises(TransitionNotAllowed):
        org.credentials.fire(credential_id=cid, trigger="approve_feasibility", by=SYSTEM)
    detail = org.views.get(cid, by=SYSTEM)
    assert detail.state == "feasibility"
    assert detail.missing["approve_feasibility"].approvals  # the dean's approval is still missing
    report = verify_database(org.database)
    assert [(f.table, f.reason) for f in report.findings] == [("gate_decision", "inserted")] * 2

    # the dean's own approval is not refused as a second one, and it is what opens the gate
    result = org.credentials.decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="approve",
                                    by=DEAN)
    assert result.fired is not None and org.views.get(cid, by=SYSTEM).state == "design"


def test_an_edited_verdict_does_not_count(org: Services, raw: Engine) -> None:
    cid = at_feasibility(org)
    org.credentials.decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="reject",
                           comment="Not aligned with our priorities", by=DEAN)
    with raw.begin() as conn:
        conn.execute(update(GATE_DECISION).where(GATE_DECISION.c.credential_id == cid).values(verdict="approve",
                                                                                             comment=""))
    with pytest.raises(TransitionNotAllowed):
        org.credentials.fire(credential_id=cid, trigger="approve_feasibility", by=SYSTEM)
    assert org.views.get(cid, by=SYSTEM).state == "feasibility"
    assert [(f.table, f.reason) for f in verify_database(org.database).findings] == [("gate_decision", "edited")]


def test_information_changed_behind_the_services_back_stops_every_action(org: Services, raw: Engine) -> None:
    cid = at_build(org, credit_bearing=True)  # the registrar and the council must sign off a credit-bearing one
    with raw.begin() as conn:  # made non-credit in SQL, so that the QA office alone would seem to suffice
        data = conn.execute(select(CREDENTIAL.c.data).where(CREDENTIAL.c.id == cid)).scalar_one()
        conn.execute(update(CREDENTIAL).where(CREDENTIAL.c.id == cid).values(data={**data, "credit_bearing": False}))
    with pytest.raises(Conflict, match="its information does not match its history"):
        org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                               by=Caller.system("qa"), role="qa_office")
    assert org.views.get(cid, by=SYSTEM).state == "build"
    assert [(f.table, f.reason) for f in verify_database(org.database).findings] == [("credential", "edited")]


def test_rows_of_the_previous_release_are_folded_into_the_chain(database_url: str, raw: Engine) -> None:
    target = Database(database_url)
    try:
        restore(target, FIXTURE)  # the release's decisions and checklist entries were outside the chain
        upgrade(target)
        with raw.connect() as conn:
            folds = conn.execute(select(EVENT.c.credential_id, EVENT.c.seq, EVENT.c.comment, EVENT.c.details)
                                 .where(EVENT.c.kind == "fold")).all()
            heads = dict(conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.chain_seq)).all())
            decisions = conn.execute(select(GATE_DECISION.c.id, GATE_DECISION.c.credential_id,
                                            GATE_DECISION.c.seq)).all()
        assert len(folds) == len(heads) and all(heads[f.credential_id] == f.seq for f in folds)
        assert {f.comment for f in folds} == {"Rows accounted for at upgrade to schema 0010"}
        fold_at = {f.credential_id: f.seq for f in folds}
        assert decisions and all(d.seq == fold_at[d.credential_id] for d in decisions)
        matched = [v["event"] for f in folds for v in f.details["gate_decision"].values()]
        assert all(seq is not None for seq in matched)  # each was matched to the decision event that wrote it
        assert verify_database(target).ok

        first = decisions[0]
        with raw.begin() as conn:
            conn.execute(update(GATE_DECISION).where(GATE_DECISION.c.id == first.id).values(comment="rewritten"))
        assert [(f.credential_id, f.table, f.row, f.reason) for f in verify_database(target).findings] == [
            (first.credential_id, "gate_decision", first.id, "edited")]
    finally:
        target.dispose()


def test_a_restored_backup_verifies_and_keeps_its_rows_accounted_for(org: Services, clock: ManualClock,
                                                                      tmp_path: Path, raw: Engine) -> None:
    cid = at_build(org)
    path = tmp_path / "workflow.backup"
    backup(org.database, path, clock=clock)
    restore(org.database, path, force=True)  # over the same database, emptied first
    assert verify_database(org.database).ok
    with raw.connect() as conn:
        assert None not in conn.execute(select(GATE_DECISION.c.seq).where(GATE_DECISION.c.credential_id == cid)
                                        ).scalars().all()
    with raw.begin() as conn:
        conn.execute(insert(GATE_DECISION), forged_approval(cid, clock.now()))
    assert [(f.table, f.reason) for f in verify_database(org.database).findings] == [("gate_decision", "inserted")]
