"""Read models: what a person sees of a credential (its checklist by role, gates, and possible transitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from workflow.engine import Engine, Facts, Option


@dataclass(frozen=True)
class ItemStatus:
    """One checklist item that stands before a transition out of the current state."""

    key: str
    title: str
    owner: str
    trigger: str
    done: bool
    note: str
    done_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ApproverStatus:
    """One approver rule of a gate and how far it has got."""

    role: str
    policy: str
    stage: int
    approvals: int
    needed: int


@dataclass(frozen=True)
class GateStatus:
    """A gate open in the current state: its approvers and the decisions of this round."""

    gate: str
    title: str
    trigger: str
    approvers: tuple[ApproverStatus, ...]
    decisions: tuple[dict[str, Any], ...]  # the latest per person and role; "current" is False once outdated
    open_stage: int | None


@dataclass(frozen=True)
class CredentialDetail:
    """Everything about one credential that a page or the CLI shows."""

    id: int
    title: str
    definition: str
    definition_version: int
    state: str
    state_title: str
    phase: str
    previous_state: str | None
    version: int
    data: dict[str, Any]
    state_entered_at: datetime
    org_unit_id: int | None
    created_by: str
    options: tuple[Option, ...]
    checklist: tuple[ItemStatus, ...]
    gates: tuple[GateStatus, ...]
    timers: tuple[dict[str, Any], ...] = ()  # pending timers, soonest first

    def checklist_by_role(self) -> dict[str, list[ItemStatus]]:
        """The checklist grouped by owning role, in definition order."""
        grouped: dict[str, list[ItemStatus]] = {}
        for item in self.checklist:
            grouped.setdefault(item.owner, []).append(item)
        return grouped


@dataclass(frozen=True)
class CredentialSummary:
    """A line of a credential list."""

    id: int
    title: str
    definition: str
    state: str
    version: int
    updated_at: datetime
    org_unit_id: int | None = None
    state_entered_at: datetime | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One entry of a credential's history."""

    seq: int
    at: datetime
    actor: str
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    comment: str
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: Row[Any]) -> HistoryEvent:
        """The entry stored in an ``event`` row."""
        return cls(row.seq, row.at, row.actor, row.kind, row.trigger, row.from_state, row.to_state, row.comment,
                   dict(row.details))


def describe(engine: Engine, credential: Row[Any], facts: Facts, entries: dict[str, Any],
             timers: list[dict[str, Any]] | None = None) -> CredentialDetail:
    """Build the read model of a credential from its row, facts and current checklist entries."""
    state = engine.definition.states[credential.state]
    items: list[ItemStatus] = []
    gates: list[GateStatus] = []
    for trigger, requirements in engine.requirements_from(credential.state):
        for item in requirements.items_for(facts.data):
            entry = entries.get(item.key)
            items.append(ItemStatus(item.key, item.title, item.owner, trigger, bool(entry and entry.done),
                                    entry.note if entry else "", entry.actor if entry else None,
                                    entry.updated_at if entry else None))
        if requirements.gate is None or requirements.gate_id is None:
            continue
        _, stale = requirements.standing(facts)
        approvers = [ApproverStatus(rule.role, rule.policy, rule.stage, have, need)
                     for rule, have, need in requirements.tally(facts)]
        gates.append(GateStatus(
            requirements.gate_id, requirements.gate.title, trigger, tuple(approvers),
            tuple({"role": d.role, "by": d.who, "actor": d.actor, "verdict": d.verdict, "comment": d.comment,
                   "current": d not in stale}
                  for d in requirements.latest_decisions(facts)),
            requirements.open_stage(facts),
        ))
    return CredentialDetail(
        id=credential.id, title=credential.title, definition=credential.definition_name,
        definition_version=credential.definition_version, state=credential.state, state_title=state.title,
        phase=state.phase, previous_state=credential.previous_state, version=credential.version,
        data=dict(credential.data), state_entered_at=credential.state_entered_at,
        org_unit_id=credential.org_unit_id, created_by=credential.created_by,
        options=tuple(engine.options(facts)), checklist=tuple(items), gates=tuple(gates),
        timers=tuple(timers or ()),
    )
