"""The pure engine: options with what is missing, guarded firing, approval policies, returning from hold."""

from __future__ import annotations

import pytest

from workflow.definitions.loader import parse_definition
from workflow.engine import Decision, Engine, Facts
from workflow.errors import TransitionNotAllowed

COMMITTEE = """
name: committee
title: Committee review
roles:
  author: {title: Author}
  chair: {title: Chair}
  member: {title: Committee member, kind: committee}
  board: {title: Board}
  registrar: {title: Registrar, kind: department}
fields:
  summary: {label: Summary}
  credit_bearing: {label: Credit-bearing, type: boolean}
states:
  draft: {title: Draft, initial: true}
  review: {title: Review}
  approved: {title: Approved, final: true}
  on_hold: {title: On hold}
gates:
  decision:
    title: Committee decision
    requires_fields: [summary]
    approvers:
      - {role: chair, policy: any, stage: 1}
      - {role: member, policy: n_of, n: 2, stage: 2}
      - {role: board, policy: all, stage: 2}
      - {role: registrar, policy: any, stage: 2, when: {credit_bearing: true}}
    checklist:
      - {key: evidence, title: Evidence attached, owner: author}
      - {key: transcript, title: Transcript entry planned, owner: registrar, when: {credit_bearing: true}}
transitions:
  - {trigger: submit, source: draft, dest: review}
  - {trigger: approve, source: review, dest: approved, gate: decision}
  - {trigger: hold, source: "*", dest: on_hold}
  - {trigger: resume, source: on_hold, dest: "@previous"}
"""


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(parse_definition(COMMITTEE, file="committee.yaml").definition)


def approve(role: str, actor: str) -> Decision:
    return Decision("decision", role, actor, "approve")


ALL_APPROVALS = (approve("chair", "c"), approve("member", "m1"), approve("member", "m2"), approve("board", "b1"))


def unmet(engine: Engine, facts: Facts, trigger: str = "approve") -> list[str]:
    return [str(u) for option in engine.options(facts) if option.trigger == trigger for u in option.unmet]


def test_options_list_each_transition_with_exactly_what_is_missing(engine: Engine) -> None:
    facts = Facts(state="review", role_holders={"board": 1})
    assert unmet(engine, facts) == [
        "“Evidence attached” is not done (Author)",
        "Summary is empty",
        "Approval by the Chair is needed",
        "2 approvals by the Committee member are needed (0 so far)",
        "Approval by the Board is needed",
    ]
    assert [(o.trigger, o.allowed) for o in engine.options(facts)] == [("approve", False), ("hold", True)]


def test_fire_moves_only_when_every_guard_holds(engine: Engine) -> None:
    ready = Facts(state="review", data={"summary": "ok"}, done=frozenset({"evidence"}), decisions=ALL_APPROVALS,
                  role_holders={"board": 1})
    outcome = engine.fire(ready, "approve")
    assert (outcome.source, outcome.dest, outcome.gate) == ("review", "approved", "decision")

    with pytest.raises(TransitionNotAllowed, match=r"^“approve” cannot happen yet from Review: 1 thing is missing: "
                                                   r"Summary is empty$"):
        engine.fire(Facts(state="review", done=frozenset({"evidence"}), decisions=ALL_APPROVALS,
                          role_holders={"board": 1}), "approve")


def test_a_trigger_the_state_does_not_have_is_refused_by_name(engine: Engine) -> None:
    with pytest.raises(TransitionNotAllowed, match=r"^“approve” is not possible while the credential is in Draft$"):
        engine.fire(Facts(state="draft"), "approve")


def test_blank_text_and_empty_lists_count_as_missing(engine: Engine) -> None:
    for blank in ("", "   ", None, []):
        assert "Summary is empty" in unmet(engine, Facts(state="review", data={"summary": blank}))


def test_conditional_items_and_approvers_apply_only_when_their_condition_holds(engine: Engine) -> None:
    credit = unmet(engine, Facts(state="review", data={"credit_bearing": True}))
    assert "“Transcript entry planned” is not done (Registrar)" in credit
    assert "Approval by the Registrar is needed" in credit
    non_credit = unmet(engine, Facts(state="review", data={"credit_bearing": False}))
    assert not [m for m in non_credit if "Registrar" in m]


def test_n_of_counts_distinct_people_and_all_counts_every_holder(engine: Engine) -> None:
    twice_by_one = (approve("member", "m1"), approve("member", "m1"))
    assert "2 approvals by the Committee member are needed (1 so far)" in unmet(
        engine, Facts(state="review", decisions=twice_by_one))
    three_board = Facts(state="review", decisions=(approve("board", "b1"), approve("board", "b2")),
                        role_holders={"board": 3})
    assert "Approval by all 3 of the Board is needed (2 so far)" in unmet(engine, three_board)


def test_a_later_decision_replaces_the_same_persons_earlier_one(engine: Engine) -> None:
    changed_mind = (approve("chair", "c"), Decision("decision", "chair", "c", "request_changes", "fix the rubric"))
    missing = unmet(engine, Facts(state="review", decisions=changed_mind))
    assert "Changes requested by c (Chair)" in missing and "Approval by the Chair is needed" in missing
    rejected = unmet(engine, Facts(state="review", decisions=(Decision("decision", "chair", "c", "reject"),)))
    assert "Rejected by c (Chair)" in rejected


def test_resume_returns_to_the_state_the_credential_was_held_from(engine: Engine) -> None:
    held = engine.fire(Facts(state="review"), "hold")
    assert held.dest == "on_hold"
    assert engine.fire(Facts(state="on_hold", previous_state="review"), "resume").dest == "review"
    assert engine.fire(Facts(state="on_hold", previous_state="draft"), "resume").dest == "draft"
    assert [o.trigger for o in engine.options(Facts(state="on_hold", previous_state="draft"))] == ["resume"]


def test_one_shared_machine_serves_many_credentials_without_leaking_state(engine: Engine) -> None:
    machine = engine._machine
    first = engine.fire(Facts(state="draft"), "submit")
    second = engine.options(Facts(state="draft"))
    assert first.dest == "review" and [o.trigger for o in second] == ["submit", "hold"]
    assert engine._machine is machine and machine.models == []
