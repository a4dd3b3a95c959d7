"""Planning the move of one running credential from one version of its definition to another (pure: no SQL).

The plan says where the credential lands (its state, through the mapping file when the new version renamed or
removed it), what happens to the checklist standing before its next moves (items kept, added, dropped), which
gate decisions still count — by the send-back rule: a decision counts only while what its approver saw is what
the gate shows now, so a gate whose required fields or checklist changed needs its approvals again — and each
pending timer's due time under the new version.

Timers keep their meaning: a timer is planned from the same moment as before (entering the state, a date
field, the cycle), so a renewal due in 40 days stays due in 40 days unless the new version changes that interval,
in which case the plan shows the new time. A timer that already fired (or whose warning passed) in this state is
not planned again; a timer the new version adds to the state is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.clock import LocalDays
from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition
from workflow.engine.facts import Decision, Facts
from workflow.engine.machine import Engine
from workflow.engine.timers import plan as plan_timers


@dataclass(frozen=True)
class Snapshot:
    """A credential as the planner needs it: where it is, since when, its data, the checklist items done and the
    gate decisions of their current rounds, and its pending timers (key → due)."""

    id: int
    title: str
    version: int  # the credential's own version (its history's length) when it was read
    state: str
    previous_state: str | None
    state_entered_at: datetime
    data: Mapping[str, Any]
    done: frozenset[str]
    decisions: tuple[Decision, ...]
    pending: Mapping[str, datetime]


@dataclass(frozen=True)
class TimerMove:
    """One timer of the credential: its due time before (``None``: not pending) and after (``None``: dropped)."""

    key: str
    before: datetime | None
    after: datetime | None


@dataclass(frozen=True)
class CredentialPlan:
    """What migrating one credential does (or, with ``problem``, why it cannot be migrated)."""

    id: int
    title: str
    version: int
    from_state: str
    to_state: str
    previous_state: str | None
    items_kept: tuple[str, ...] = ()
    items_added: tuple[str, ...] = ()
    items_dropped: tuple[str, ...] = ()
    decisions_kept: tuple[str, ...] = ()
    decisions_invalidated: tuple[str, ...] = ()
    timers: tuple[TimerMove, ...] = ()
    problem: str | None = None
    planned: tuple[Any, ...] = field(default=(), compare=False, repr=False)  # the new PlannedTimers

    def summary(self) -> dict[str, Any]:
        """The plan as plain data (what the history event of the migration keeps, and what a dry run prints)."""
        return {"from_state": self.from_state, "to_state": self.to_state, "previous_state": self.previous_state,
                "items": {"kept": list(self.items_kept), "added": list(self.items_added),
                          "dropped": list(self.items_dropped)},
                "decisions": {"kept": list(self.decisions_kept), "invalidated": list(self.decisions_invalidated)},
                "timers": {t.key: {"before": _iso(t.before), "after": _iso(t.after)} for t in self.timers}}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def possible_timer_keys(definition: Definition, state: str) -> set[str]:
    """Every timer key a credential in ``state`` can have under ``definition`` (warnings with their offset)."""
    keys: set[str] = set()
    for timer in definition.timers:
        if timer.state and state not in timer.state:
            continue
        keys.update(f"{timer.key}@{offset}" for offset in timer.before) if timer.before else keys.add(timer.key)
    return keys


def _items(engine: Engine, state: str, data: Mapping[str, Any]) -> dict[str, None]:
    return {item.key: None for _, req in engine.requirements_from(state) for item in req.items_for(data)}


def _label(decision: Decision) -> str:
    return f"{decision.gate}: {decision.verdict} by {decision.actor} as {decision.role}"


def plan_credential(old: Engine, new: Engine, mapping: Mapping[str, str], credential: Snapshot, *,
                    now: datetime, days: LocalDays) -> CredentialPlan:
    """The plan for one credential (see the module's description).

    Args:
        old: the engine of the version the credential is on.
        new: the engine of the version it moves to.
        mapping: old state → new state, for states the new version renamed or removed.
        credential: the credential as read.
        now: the moment of planning (warnings already past are not planned).
        days: the institution's calendar (date fields are its days).

    Returns:
        The plan; ``problem`` says why it cannot be carried out (nothing else is filled in then).
    """
    states = new.definition.states
    to_state = mapping.get(credential.state, credential.state)
    previous = credential.previous_state
    if previous is not None:
        previous = mapping.get(previous, previous)
    base = CredentialPlan(credential.id, credential.title, credential.version, credential.state, to_state, previous)
    if to_state not in states:
        return _refused(base, f"is in '{credential.state}', which the new version does not have; map it to one of "
                              "its states in the mapping file")
    if previous is not None and previous not in states and _resumes(new.definition, to_state):
        return _refused(base, f"would come back to '{credential.previous_state}' when resumed, which the new "
                              "version does not have; map it to one of its states in the mapping file")
    if previous is not None and previous not in states:
        previous = None

    before = _items(old, credential.state, credential.data)
    after = _items(new, to_state, credential.data)
    facts = Facts(state=to_state, data=dict(credential.data), done=credential.done,
                  decisions=credential.decisions, previous_state=previous)
    counted_before = _counting(old, Facts(state=credential.state, data=dict(credential.data), done=credential.done,
                                          decisions=credential.decisions, previous_state=credential.previous_state))
    counting = _counting(new, facts)
    kept = [label for label in counted_before if label in counting]
    invalidated = [label for label in counted_before if label not in counting]

    fresh = possible_timer_keys(new.definition, to_state) - possible_timer_keys(old.definition, credential.state)
    planned = [p for p in plan_timers(new.definition, state=to_state, entered_at=credential.state_entered_at,
                                      data=credential.data, now=now, days=days)
               if p.key in credential.pending or p.key in fresh]
    wanted = {p.key: p.due_at for p in planned}
    moves = [TimerMove(key, credential.pending.get(key), wanted.get(key))
             for key in sorted(set(credential.pending) | set(wanted))]
    return CredentialPlan(
        credential.id, credential.title, credential.version, credential.state, to_state, previous,
        items_kept=tuple(k for k in after if k in before), items_added=tuple(k for k in after if k not in before),
        items_dropped=tuple(k for k in before if k not in after), decisions_kept=tuple(kept),
        decisions_invalidated=tuple(invalidated), timers=tuple(moves), planned=tuple(planned))


def _counting(engine: Engine, facts: Facts) -> list[str]:
    """The decisions that count towards the gates open in the facts' state (the send-back rule:
    :meth:`Requirements.standing`)."""
    counting: list[str] = []
    for _, req in engine.requirements_from(facts.state):
        if req.gate_id is not None:
            counting.extend(_label(d) for d in req.standing(facts)[0])
    return counting


def _refused(base: CredentialPlan, problem: str) -> CredentialPlan:
    return CredentialPlan(base.id, base.title, base.version, base.from_state, base.to_state, base.previous_state,
                          problem=problem)


def _resumes(definition: Definition, state: str) -> bool:
    """Whether a move out of ``state`` goes back to the previous state."""
    return any(t.dest == PREVIOUS and (state in t.source or ANY_STATE in t.source) for t in definition.transitions)


def unmapped(plans: Sequence[CredentialPlan]) -> list[CredentialPlan]:
    """The plans that cannot be carried out."""
    return [p for p in plans if p.problem is not None]
