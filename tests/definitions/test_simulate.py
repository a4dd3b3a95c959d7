"""Simulation of a definition against who holds which role: each kind of finding on a small definition broken in
that way, the planned paths, and every shipped definition (each file in ``definitions/``) finding nothing when every
role is held."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS
from workflow.definitions.loader import load_definition, parse_definition
from workflow.definitions.model import Definition
from workflow.definitions.simulate import simulate
from workflow.services.simulation import enough_of_everyone

RunCli = Callable[..., subprocess.CompletedProcess[str]]
SHIPPED = sorted(DEFINITIONS.glob("*.yaml"))

TINY = """
name: tiny
title: Tiny lifecycle
roles:
  lead: {title: Initiative lead}
  dean: {title: Dean}
  council: {title: Academic council, kind: committee}
  registrar: {title: Registrar's office, kind: department}
  archives: {title: Archives, kind: department}
permissions: {create: [lead], edit: [lead]}
fields:
  credit_bearing: {label: Credit-bearing, type: boolean}
states:
  idea: {title: Idea, initial: true, planned_days: 10}
  review: {title: Review, planned_days: 20}
  live: {title: Live}
  done: {title: Done, final: true}
  dropped: {title: Dropped, final: true}
gates:
  approval:
    title: Approval
    approvers:
      - {role: dean}
      - {role: council, policy: n_of, n: 2, when: {credit_bearing: true}}
    checklist:
      - {key: transcript, owner: registrar, title: Transcript entry planned}
transitions:
  - {trigger: submit, title: Submit, source: idea, dest: review}
  - {trigger: approve, title: Approve, source: review, dest: live, gate: approval}
  - {trigger: close, title: Close, source: live, dest: done}
  - {trigger: drop, title: Drop, source: '*', dest: dropped}
timers:
  - {key: nudge, title: Decision waiting, action: remind, state: review, after: P14D, notify: [dean]}
  - {key: close_live, title: Closes itself, action: fire, state: live, after: P30D, trigger: close}
  - {key: late_warning, title: Late warning, action: warn, state: live, after: P60D, notify: [lead]}
"""
EVERYONE = {"lead": 1, "dean": 1, "council": 2, "registrar": 1}


def tiny(old: str = "", new: str = "") -> Definition:
    text = TINY.replace(old, new, 1) if old else TINY
    assert not old or old in TINY
    return parse_definition(text, file="tiny.yaml").definition


def messages(definition: Definition, holders: dict[str, int], kind: str) -> list[str]:
    return [f.message for f in simulate(definition, holders).findings if f.kind == kind]


def test_with_every_role_held_only_the_timer_outrun_by_another_is_found() -> None:
    report = simulate(tiny(), EVERYONE)
    assert [(f.kind, f.subject) for f in report.findings] == [("timer-never-fires", "late_warning")]
    assert report.findings[0].message == (
        "Timer “Late warning” can never fire: in Live “Closes itself” always moves the credential on first "
        "(after P30D, this one after P60D)")


def test_a_gate_nobody_can_pass_is_found_with_the_role_it_needs() -> None:
    assert messages(tiny(), {**EVERYONE, "dean": 0}, "gate-blocked") == [
        "Nobody can pass the gate “Approval”: it needs the approval of the Dean (any one), and nobody holds that role"]


def test_a_quorum_larger_than_the_committee_is_found_with_its_condition() -> None:
    assert messages(tiny(), {**EVERYONE, "council": 1}, "gate-blocked") == [
        "Nobody can pass the gate “Approval” when Credit-bearing is yes: it needs 2 approvals by the Academic "
        "council, and only 1 person holds that role"]


def test_a_blocked_gate_makes_its_state_a_dead_end_and_the_states_after_it_unreached() -> None:
    report = simulate(tiny(), {**EVERYONE, "dean": 0})
    assert [f.message for f in report.of_kind("dead-end")] == [
        "Credentials in Review can go no further (only “Drop” leaves it): “Approve” passes the gate “Approval”: it "
        "needs the approval of the Dean (any one), and nobody holds that role"]
    assert [f.message for f in report.of_kind("timer-never-fires")] == [
        "Timer “Closes itself” can never fire: no credential reaches Live",
        "Timer “Late warning” can never fire: no credential reaches Live"]


def test_a_move_only_roles_nobody_holds_may_make_is_a_dead_end() -> None:
    definition = tiny("{trigger: submit, title: Submit,", "{trigger: submit, title: Submit, by: [dean],")
    assert messages(definition, {**EVERYONE, "dean": 0}, "dead-end")[0] == (
        "Credentials in Idea can go no further (only “Drop” leaves it): “Submit” may be made only by the Dean, and "
        "nobody holds that role")


def test_a_checklist_item_nobody_owns_is_found_and_blocks_its_gate() -> None:
    report = simulate(tiny(), {**EVERYONE, "registrar": 0})
    assert [f.message for f in report.of_kind("unowned-item")] == [
        "Checklist item “Transcript entry planned” is owned by the Registrar's office, and nobody in the "
        "organisation holds that role"]
    assert [f.subject for f in report.of_kind("dead-end")] == ["review"]


def test_an_item_of_a_personal_role_can_be_given_on_the_team_and_does_not_block() -> None:
    definition = tiny("owner: registrar", "owner: lead")
    report = simulate(definition, {**EVERYONE, "lead": 0, "registrar": 0})
    assert [f.kind for f in report.findings if f.kind in {"unowned-item", "nobody-starts"}] == [
        "nobody-starts", "unowned-item"]
    assert simulate(definition, {**EVERYONE, "registrar": 0, "lead": 1}).of_kind("unowned-item") == []


def test_nobody_holding_a_role_that_starts_credentials_is_found() -> None:
    assert messages(tiny(), {**EVERYONE, "lead": 0}, "nobody-starts") == [
        "Nobody can start a credential: that takes the Initiative lead, and nobody holds that role"]


def test_a_timer_whose_move_is_always_refused_never_fires() -> None:
    definition = tiny("{trigger: close, title: Close, source: live, dest: done}",
                      "{trigger: close, title: Close, source: live, dest: done, checklist: "
                      "[{key: closed, owner: archives, title: Registration closed}]}")
    found = messages(definition, EVERYONE, "timer-never-fires")
    assert found == [
        "Timer “Closes itself” can never fire: in Live the move it makes is always refused (“Close” needs "
        "“Registration closed”, owned by the Archives, and nobody holds that role)"]


def test_a_timer_in_a_state_no_move_reaches_never_fires() -> None:
    definition = tiny()
    parked = definition.states["live"].model_copy(update={"title": "Parked"})
    definition = definition.model_copy(update={
        "states": {**definition.states, "parked": parked},
        "timers": (*definition.timers, definition.timers[0].model_copy(
            update={"key": "parked_nudge", "title": "Parked too long", "state": ("parked",)}))})
    assert messages(definition, EVERYONE, "timer-never-fires")[-1] == (
        "Timer “Parked too long” can never fire: no credential reaches Parked")


def test_paths_carry_the_planned_days_of_their_states() -> None:
    report = simulate(tiny(), EVERYONE)
    assert [(p.route, p.days, p.unplanned, p.blocked) for p in report.paths] == [
        ("Idea → Review → Live → Done", 30, ("Live",), "")]
    assert report.from_anywhere == ("“Drop” → Dropped",)
    blocked = simulate(tiny(), {**EVERYONE, "dean": 0}).paths[0]
    assert blocked.blocked.startswith("“Approve” passes the gate “Approval”")


def test_a_dead_end_state_ends_a_path_there() -> None:
    definition = tiny("  - {trigger: close, title: Close, source: live, dest: done}",
                      "  - {trigger: close, title: Close, source: live, dest: done}\n"
                      "  - {trigger: park, title: Park, source: idea, dest: live}")
    routes = [p.route for p in simulate(definition, EVERYONE).paths]
    assert routes == ["Idea → Live → Done", "Idea → Review → Live → Done"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_a_shipped_definition_finds_nothing_when_every_role_is_held(path: Path) -> None:
    definition = load_definition(path).definition
    report = simulate(definition, enough_of_everyone(definition))
    assert report.findings == ()
    finals = {s.title for s in definition.states.values() if s.final}
    titles = {s.title: s for s in definition.states.values()}
    assert report.paths and all(p.states[-1] in finals for p in report.paths)
    for planned in report.paths:
        assert planned.days == sum(titles[t].planned_days or 0 for t in planned.states if not titles[t].final)
        assert not planned.blocked
    assert any(planned.days > 0 for planned in report.paths)  # the milestone plan gives the paths a duration


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_simulate_command_on_each_shipped_definition(run_cli: RunCli, path: Path) -> None:
    name = load_definition(path).definition.name
    result = run_cli("definitions", "simulate", name, "--everyone")
    assert result.returncode == 0, result.stderr
    assert "No findings" in result.stdout and " days  " in result.stdout


def test_simulate_command_on_a_broken_file_lists_its_findings(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    result = run_cli("definitions", "simulate", str(path), "--everyone")
    assert result.returncode == 1
    assert "Findings (1):\n  [timer-never-fires] Timer “Late warning” can never fire" in result.stdout
    assert "\n     30 days  Idea → Review → Live → Done  (no plan for Live)" in result.stdout


def test_simulate_command_on_an_invalid_file_names_its_lines(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("dest: done}", "dest: dnoe}"), encoding="utf-8")
    result = run_cli("definitions", "simulate", str(path), "--everyone")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"{path}:30: [unknown-state] unknown state 'dnoe' — did you mean 'done'?")
