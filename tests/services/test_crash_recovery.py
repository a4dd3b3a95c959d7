"""Crash recovery: ``workflow serve`` killed with SIGKILL in the middle of a burst of people's actions keeps every
action it acknowledged and leaves nothing half-written, on SQLite and on PostgreSQL.

Credentials wait in feasibility with their whole checklist open; client threads tick items, hold and resume,
approve gates and fire transitions over HTTP with API tokens, about a thousand actions planned. Once a few hundred
have been answered with a 2xx, the server's whole process group is killed while other requests are in flight.
A new server on the same database must then show every acknowledged action, nothing nobody asked for, a history
that explains every credential's state, decisions and checklist entries matching their events, timers planned for
the state each credential is in, messages only for what happened, and an audit chain that verifies.
"""

from __future__ import annotations

import signal
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import settings_for
from tests.organisation import ORG, load_org
from tests.services.crash_burst import Burst, Sent, Served, Step, launch, script, server_environment
from tests.steps import SUMMARY, SYSTEM, at_feasibility
from workflow.cli import app
from workflow.context import Services
from workflow.engine.timers import plan
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, OUTBOX, TIMER

CREDENTIALS = 32  # x 32 actions each: the burst planned
THREADS = 8
KILL_AFTER = 350  # 2xx answers before the server is killed: the credentials then stand around their first gate

PEOPLE = """\
  - {username: designer, name: Instructional designer, roles: [{role: instructional_designer, unit: northern}]}
  - {username: partner, name: Employer partner, roles: [{role: employer_partner, unit: northern}]}
  - {username: finance.office, name: Finance, roles: [{role: finance, unit: northern}]}
  - {username: marketing.office, name: Marketing, roles: [{role: marketing, unit: northern}]}
  - {username: hr.office, name: Human resources, roles: [{role: hr, unit: northern}]}
  - {username: it.desk, name: IT, roles: [{role: it, unit: northern}]}
"""
OWNERS = {"initiative_lead": "pm.business", "project_manager": "pm.business", "employer_engagement_lead": "engage",
          "sme": "sme", "qa_office": "qa", "finance": "finance.office", "marketing": "marketing.office",
          "instructional_designer": "designer", "employer_partner": "partner", "hr": "hr.office", "it": "it.desk",
          "registrar": "registrar"}
APPROVERS = {"dean": ["dean.business"], "qa_office": ["qa"], "registrar": ["registrar"],
             "academic_governance": ["council.a", "council.b"]}
DATA = SUMMARY | {"credit_bearing": True}


@dataclass
class Stored:
    """Everything the database holds about the credentials, read in one transaction."""

    credentials: dict[int, Any]
    events: dict[int, list[Any]]  # by credential, in seq order
    decisions: list[Any]
    entries: list[Any]
    timers: list[Any]
    outbox: list[Any]


def test_a_server_killed_mid_burst_keeps_every_acknowledged_action_and_half_writes_nothing(
        database_url: str, tmp_path: Path) -> None:
    services = Services.start(settings_for(database_url, tmp_path / "data"))
    env = server_environment(database_url, tmp_path)
    first: Served | None = None
    second: Served | None = None
    try:
        load_org(services, ORG + PEOPLE)
        first = launch(env, tmp_path / "serve-1.log", workers=1)  # it starts while the credentials are made
        users = set(OWNERS.values()) | {user for users in APPROVERS.values() for user in users}
        tokens = {user: services.auth.create_token(services.people.user_id(user), "burst").token for user in users}
        engine = services.definitions.engine("microcredential")
        cids = [prepare(services) for _ in range(CREDENTIALS)]
        before = {cid: row.version for cid, row in read(services).credentials.items()}
        scripts = [script(cid, engine, DATA, OWNERS, APPROVERS) for cid in cids]
        first.wait_until_up()
        sent = Burst(first.api, tokens, scripts, threads=THREADS, kill_after=KILL_AFTER, kill=first.kill).run()
        assert_killed_part_way(sent, scripts, first)

        second = launch(env, tmp_path / "serve-2.log", workers=1)
        second.wait_until_up()
        stored = read(services)
        assert sorted(stored.credentials) == sorted(cids)
        assert_histories_explain_states(stored)
        assert_no_gate_left_complete(services, stored)
        assert_acknowledged_actions_kept(stored, sent)
        assert_nothing_happened_unasked(stored, sent, before)
        assert_decisions_match_their_events(stored)
        assert_checklist_matches_its_events(stored)
        assert_timers_follow_states(services, stored)
        assert_messages_match_history(stored)
        assert_audit_chain_verifies(database_url)
        assert_restarted_server_works(second.api, tokens, stored)
        assert "Traceback" not in second.log.read_text(), second.log.read_text()
    finally:
        for served in (first, second):
            if served is not None:
                served.kill()
        services.close()


def prepare(services: Services) -> int:
    """A business credential in feasibility with every checklist item of the phase still open."""
    feasibility = dict(services.definitions.engine("microcredential").requirements_from("feasibility"))
    cid = at_feasibility(services, leave_open=tuple(i.key for i in feasibility["approve_feasibility"].items))
    services.credentials.update(credential_id=cid, changes=DATA, by=SYSTEM)
    return cid


def read(services: Services) -> Stored:
    with services.database.begin_read() as conn:
        events: dict[int, list[Any]] = defaultdict(list)
        for event in conn.execute(select(EVENT).order_by(EVENT.c.credential_id, EVENT.c.seq)):
            events[event.credential_id].append(event)
        return Stored(credentials={row.id: row for row in conn.execute(select(CREDENTIAL))}, events=events,
                      decisions=list(conn.execute(select(GATE_DECISION))),
                      entries=list(conn.execute(select(CHECKLIST_ENTRY).order_by(CHECKLIST_ENTRY.c.round))),
                      timers=list(conn.execute(select(TIMER))), outbox=list(conn.execute(select(OUTBOX))))


def signature(step: Step) -> tuple[int, str, str, str]:
    return step.cid, step.kind, step.key, step.user


def event_signature(event: Any) -> tuple[int, str, str, str]:
    key = {"checklist": event.details.get("item"), "decision": event.details.get("gate")}.get(event.kind,
                                                                                             event.trigger)
    return event.credential_id, event.kind, str(key), event.actor


def assert_killed_part_way(sent: list[Sent], scripts: list[list[Step]], killed: Served) -> None:
    """The server died with most of the burst unsent and some requests unanswered; every answer was a 2xx."""
    planned = sum(len(steps) for steps in scripts)
    assert planned > 1000
    answered = [s for s in sent if s.status is not None]
    assert {s.status for s in answered} <= {200, 201}, Counter(s.status for s in answered)
    assert len(answered) >= KILL_AFTER
    assert len(sent) < planned // 2
    cut_off = [s for s in sent if s.status is None and s.before_kill]
    assert cut_off, "no request was in flight when the server was killed"
    assert {s.step.kind for s in answered} == {"checklist", "decision", "transition"}
    assert killed.process.returncode == -signal.SIGKILL
    with pytest.raises(httpx.TransportError):  # nothing of the old server is left listening
        httpx.get(f"{killed.base}/healthz", timeout=2)


def assert_histories_explain_states(stored: Stored) -> None:
    """Seqs run 1..version without a gap, the chain head is the newest event, and the state (and the one before
    it) is where the newest move led."""
    for cid, row in stored.credentials.items():
        events = stored.events[cid]
        assert [e.seq for e in events] == list(range(1, row.version + 1)), cid
        assert row.chain_seq == row.version, cid
        assert row.chain_hash == events[-1].hash, cid
        move = [e for e in events if e.to_state is not None][-1]
        assert (row.state, row.previous_state) == (move.to_state, move.from_state), cid


def assert_no_gate_left_complete(services: Services, stored: Stored) -> None:
    """The approval that completes a gate moves the credential on in the same transaction: no credential waits at
    a gate whose approvals and checklist are all there."""
    for cid in stored.credentials:
        detail = services.views.get(cid, by=SYSTEM)
        assert [o.trigger for o in detail.options if o.gate and o.allowed] == [], (cid, detail.state)


def assert_acknowledged_actions_kept(stored: Stored, sent: list[Sent]) -> None:
    """Every action answered with a 2xx is in the history (and, by the checks below, in its tables)."""
    history = Counter(event_signature(e) for events in stored.events.values() for e in events)
    acknowledged = Counter(signature(s.step) for s in sent if s.acknowledged)
    assert acknowledged - history == Counter(), "acknowledged actions missing after the crash"
    for s in sent:
        if s.acknowledged and s.step.kind == "checklist":
            assert any(e.credential_id == s.step.cid and e.item_key == s.step.key and e.done
                       for e in stored.entries), s


def assert_nothing_happened_unasked(stored: Stored, sent: list[Sent], before: dict[int, int]) -> None:
    """What the burst added is what was asked: acknowledged actions and, at most, ones cut off by the crash; a
    gate's transition comes right after the approval that completed it."""
    asked = Counter(signature(s.step) for s in sent if s.acknowledged or s.status is None)
    written: Counter[tuple[int, str, str, str]] = Counter()
    for cid, events in stored.events.items():
        for event in events[before[cid]:]:
            gate = event.details.get("gate") if event.kind == "transition" else None
            if gate:
                approval = events[event.seq - 2]
                assert (approval.kind, approval.details["gate"], approval.details["verdict"], approval.actor) == \
                    ("decision", gate, "approve", event.actor), event
            else:
                written[event_signature(event)] += 1
    assert written - asked == Counter(), "events nobody asked for"


def assert_decisions_match_their_events(stored: Stored) -> None:
    """No decision without its 'decision' event in the history, and no such event without its decision."""
    rows = Counter((d.credential_id, d.gate, d.role, d.actor, d.verdict) for d in stored.decisions)
    events = Counter((e.credential_id, e.details["gate"], e.details["role"], e.actor, e.details["verdict"])
                     for events in stored.events.values() for e in events if e.kind == "decision")
    assert rows == events
    assert rows


def assert_checklist_matches_its_events(stored: Stored) -> None:
    """Each item's latest entry says what the item's latest 'checklist' event says, and neither exists alone."""
    latest_entry = {(e.credential_id, e.item_key): (e.done, e.note, e.actor) for e in stored.entries}
    latest_event = {(e.credential_id, e.details["item"]): (e.details["done"], e.comment, e.actor)
                    for events in stored.events.values() for e in events if e.kind == "checklist"}
    assert latest_entry == latest_event


def assert_timers_follow_states(services: Services, stored: Stored) -> None:
    """The pending timers of each credential are exactly those planned for its state since it entered it."""
    pending: dict[int, set[tuple[str, Any, str | None]]] = defaultdict(set)
    for timer in stored.timers:
        assert timer.status in ("pending", "cancelled"), timer  # none was due yet
        if timer.status == "pending":
            pending[timer.credential_id].add((timer.key, timer.due_at, timer.state))
    for cid, row in stored.credentials.items():
        definition = services.definitions.engine(row.definition_name, row.definition_version).definition
        planned = {(p.key, p.due_at, p.state) for p in plan(definition, state=row.state,
                                                           entered_at=row.state_entered_at, data=row.data,
                                                           now=row.state_entered_at,
                                                           days=services.settings.days)}
        assert pending[cid] == planned, (cid, row.state)
    assert any(pending.values())


def assert_messages_match_history(stored: Stored) -> None:
    """Every message is about a credential that exists, and there is one "decided" message (to the project
    manager) per decision and one "state changed" per move: none from an action that did not commit."""
    assert {m.credential_id for m in stored.outbox} <= set(stored.credentials)
    for kind, events in (("decided", ("decision",)), ("state_changed", ("transition", "override"))):
        messages = Counter(m.credential_id for m in stored.outbox if m.kind == kind)
        happened = Counter(e.credential_id for history in stored.events.values() for e in history
                           if e.kind in events)
        assert messages == happened, kind


def assert_audit_chain_verifies(database_url: str) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"], env={"WORKFLOW_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {CREDENTIALS} credentials"), result.output


def assert_restarted_server_works(api: str, tokens: dict[str, str], stored: Stored) -> None:
    """The new server serves what was kept and takes a further action on top of it."""
    cid, row = next((cid, row) for cid, row in stored.credentials.items() if row.state != "on_hold")
    with httpx.Client(base_url=api, timeout=30, headers={"Authorization": f"Bearer {tokens['pm.business']}"}) as pm:
        listed = pm.get("/credentials", params={"limit": 200})
        assert listed.status_code == 200 and listed.json()["total"] == CREDENTIALS
        shown = pm.get(f"/credentials/{cid}").json()
        assert (shown["state"], shown["version"]) == (row.state, row.version)
        held = pm.post(f"/credentials/{cid}/transitions", json={"trigger": "hold", "comment": "after the crash"})
        assert held.status_code == 200, held.text
        assert (held.json()["state"], held.json()["version"]) == ("on_hold", row.version + 1)
        history = pm.get(f"/credentials/{cid}/events").json()
        assert [(e["seq"], e["trigger"], e["to_state"]) for e in history[-1:]] == [(row.version + 1, "hold",
                                                                                    "on_hold")]
