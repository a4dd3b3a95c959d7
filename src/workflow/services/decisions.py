"""What one person sees when deciding one gate: the proposal (with what changed since they last looked), the
checklist evidence by role, the gate's approval path (stages, who decided what and when, who is next, quorum
counts), and what each decision would do. Reads only; deciding is :meth:`CredentialCommands.decide`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workflow.definitions.model import Definition
from workflow.definitions.words import counted, listed, policy_words, role_title, verdict_words
from workflow.engine import Engine
from workflow.errors import NotFound, Unmet
from workflow.services.access import AccessService, Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.services.looks import LookService
from workflow.services.missing import approval_phrase
from workflow.services.views import CredentialDetail, CredentialViews, GateStatus, HistoryEvent


@dataclass(frozen=True)
class FieldLine:
    """One field of the critical information summary; ``before`` is its value when the person last looked,
    set only when it changed since."""

    key: str
    label: str
    value: Any
    required: bool  # this gate needs it filled in
    changed: bool = False
    before: Any = None


@dataclass(frozen=True)
class EvidenceItem:
    """A checklist item of the gate, as its owner left it."""

    key: str
    title: str
    done: bool
    note: str
    done_by: str | None
    updated_at: datetime | None
    changed: bool  # ticked, unticked or re-noted since the person last looked


@dataclass(frozen=True)
class EvidenceGroup:
    """The gate's checklist items one role owns."""

    role: str
    title: str
    holders: tuple[str, ...]
    items: tuple[EvidenceItem, ...]

    @property
    def done(self) -> int:
        """How many of the items are done."""
        return sum(1 for item in self.items if item.done)


@dataclass(frozen=True)
class PathDecision:
    """One approver's decision of this round."""

    who: str
    actor: str
    verdict: str
    words: str
    at: datetime | None
    comment: str
    current: bool  # False once the evidence it was made on has changed


@dataclass(frozen=True)
class PathStep:
    """One approver rule of the gate: a role, how many of its holders must approve, and how far it has got."""

    role: str
    title: str
    policy: str
    have: int
    need: int
    holders: tuple[str, ...]
    decisions: tuple[PathDecision, ...]
    next: bool  # its stage is open and it still needs approvals: the gate waits for it

    @property
    def complete(self) -> bool:
        """It has all the approvals it needs."""
        return self.have >= self.need


@dataclass(frozen=True)
class Stage:
    """Approver rules that decide together; a stage opens when every earlier one is complete."""

    number: int
    steps: tuple[PathStep, ...]
    status: str  # "done", "open" or "waiting"


@dataclass(frozen=True)
class Choice:
    """A way the person may decide: in one of their roles, in their own name or as someone's delegate."""

    value: str
    label: str


@dataclass(frozen=True)
class GateSheet:
    """Everything a decider reads and may do at one gate of one credential."""

    credential: CredentialDetail
    gate: GateStatus
    description: str
    dest_title: str
    confirm: bool  # approving it is hard to undo: a reason is asked for
    waiting_since: datetime
    due_at: datetime | None
    fields: tuple[FieldLine, ...]
    evidence: tuple[EvidenceGroup, ...]
    stages: tuple[Stage, ...]
    missing: tuple[Unmet, ...]
    choices: tuple[Choice, ...]
    consequences: dict[str, str]
    discussion: tuple[HistoryEvent, ...]
    seen_at: datetime | None
    changes_since: int  # others' events since the person last looked (0 when they never did)
    people_told: tuple[str, ...] = field(default=())
    missing_summary: str = ""  # one line counting what is missing, by kind

    @property
    def checklist_done(self) -> int:
        """Items of the gate that are done."""
        return sum(group.done for group in self.evidence)

    @property
    def checklist_total(self) -> int:
        """Items of the gate."""
        return sum(len(group.items) for group in self.evidence)


class DecisionViews:
    """The decision sheet of a gate, for the person about to decide it."""

    def __init__(self, definitions: DefinitionRegistry, access: AccessService, views: CredentialViews,
                 looks: LookService) -> None:
        self._definitions = definitions
        self._access = access
        self._views = views
        self._looks = looks

    def sheet(self, credential_id: int, gate: str, *, by: Caller) -> GateSheet:
        """The gate ``gate`` as open in the credential's current state.

        Raises:
            NotFound: the credential is not visible to ``by``, or no such gate is open in its state.
        """
        detail = self._views.get(credential_id, by=by)
        status = next((g for g in detail.gates if g.gate == gate), None)
        if status is None:
            raise NotFound("open gate", gate)
        engine = self._definitions.engine(detail.definition, detail.definition_version)
        definition = engine.definition
        history = self._views.history(credential_id, by=by)
        look = self._looks.seen(by.user_id, credential_id) if by.user_id is not None else None
        since = [e for e in history if look is not None and e.seq > look[0] and e.actor != by.username]
        requirements = dict(engine.requirements_from(detail.state))[status.trigger]
        option = next(o for o in detail.options if o.trigger == status.trigger)
        roles = {item.owner for item in detail.checklist if item.trigger == status.trigger} | {
            a.role for a in status.approvers}
        holders = self._access.holders_by_role(detail.id, detail.org_unit_id, roles)
        gate_spec = definition.gates[gate]
        transition = next(t for t in definition.transitions if t.trigger == status.trigger)
        dest = option.dest if option.dest in definition.states else (detail.previous_state or detail.state)
        told = _told(engine, definition, dest, detail.data)
        choices = tuple(choices_for(definition, by, detail, status))
        return GateSheet(
            credential=detail, gate=status, description=gate_spec.description,
            dest_title=definition.states[dest].title, confirm=transition.confirm,
            waiting_since=detail.state_entered_at,
            due_at=detail.state_entered_at + timedelta(days=gate_spec.due_days) if gate_spec.due_days else None,
            fields=tuple(_fields(definition, detail, {name for name, _ in requirements.fields}, since)),
            evidence=tuple(_evidence(definition, detail, status.trigger, holders, since)),
            stages=tuple(_stages(definition, status, holders, history)),
            missing=option.unmet, choices=choices,
            consequences=_consequences(definition, status, option.unmet, choices, definition.states[dest].title, told),
            discussion=tuple(e for e in history if e.kind in ("comment", "decision") and e.comment
                             and e.details.get("gate") == gate),
            seen_at=look[1] if look is not None else None, changes_since=len(since), people_told=told,
            missing_summary=detail.missing[status.trigger].summary() if status.trigger in detail.missing
            else missing_summary(definition, status, option.unmet),
        )


def missing_summary(definition: Definition, gate: GateStatus, missing: tuple[Unmet, ...],
                    given: str | None = None) -> str:
    """What stands before a gate in one line, worded as :meth:`Missing.summary` words it: "3 checklist items and
    the approval of the Dean" (``given``: a role whose next approval is counted as made)."""
    items = sum(1 for u in missing if u.kind == "checklist")
    fields = sum(1 for u in missing if u.kind == "field")
    objections = sum(1 for u in missing if u.kind == "decision")
    parts = ([counted(items, "checklist item")] if items else []) + ([counted(fields, "field")] if fields else []) \
        + ([counted(objections, "standing objection")] if objections else [])
    needs = {u.subject for u in missing if u.kind == "approval"}
    for rule in gate.approvers:
        short = rule.needed - rule.approvals - (rule.role == given)
        if rule.role in needs and short > 0:
            parts.append(approval_phrase(role_title(definition, rule.role), short, rule.needed))
    return listed(parts)


def _fields(definition: Definition, detail: CredentialDetail, required: set[str],
            since: list[HistoryEvent]) -> list[FieldLine]:
    before: dict[str, Any] = {}
    for event in since:  # the value each field had when the person last looked: the first "before" after it
        if event.kind == "data":
            for name, pair in (event.details.get("changes") or {}).items():
                before.setdefault(name, pair[0])
    lines = []
    for key, spec in definition.fields.items():
        value = detail.data.get(key)
        changed = key in before and before[key] != value
        lines.append(FieldLine(key, spec.label or key, value, key in required, changed, before.get(key)))
    return sorted(lines, key=lambda line: (not line.required,))  # what the gate needs first, else in order


def _evidence(definition: Definition, detail: CredentialDetail, trigger: str, holders: dict[str, list[str]],
              since: list[HistoryEvent]) -> list[EvidenceGroup]:
    touched = {e.details.get("item") for e in since if e.kind == "checklist"}
    grouped: dict[str, list[EvidenceItem]] = {}
    for item in detail.checklist:
        if item.trigger == trigger:
            grouped.setdefault(item.owner, []).append(EvidenceItem(
                item.key, item.title, item.done, item.note, item.done_by, item.updated_at, item.key in touched))
    return [EvidenceGroup(role, role_title(definition, role), tuple(holders.get(role, ())), tuple(items))
            for role, items in grouped.items()]


def _stages(definition: Definition, status: GateStatus, holders: dict[str, list[str]],
            history: list[HistoryEvent]) -> list[Stage]:
    when: dict[tuple[str, str], datetime] = {}
    for event in history:  # the time of each person's latest decision in a role
        if event.kind == "decision" and event.details.get("gate") == status.gate:
            who = event.details.get("on_behalf_of") or event.actor
            when[(event.details.get("role", ""), who)] = event.at
    stages: dict[int, list[PathStep]] = {}
    for rule in status.approvers:
        decisions = tuple(
            PathDecision(d["by"], d["actor"], d["verdict"], verdict_words(d["verdict"]),
                         when.get((d["role"], d["by"])), d["comment"], d["current"])
            for d in status.decisions if d["role"] == rule.role)
        waiting = rule.approvals < rule.needed and status.open_stage == rule.stage
        policy = policy_words(rule.policy, rule.needed)
        stages.setdefault(rule.stage, []).append(PathStep(
            rule.role, role_title(definition, rule.role), policy, rule.approvals, rule.needed,
            tuple(holders.get(rule.role, ())), decisions, waiting))
    found = []
    for number in sorted(stages):
        steps = tuple(stages[number])
        state = ("done" if all(s.complete for s in steps)
                 else "open" if status.open_stage == number else "waiting")
        found.append(Stage(number, steps, state))
    return found


def choices_for(definition: Definition, caller: Caller, detail: CredentialDetail, gate: GateStatus) -> list[Choice]:
    """The ways the caller may decide a gate now: each approver role they hold whose turn it is, in their own name
    or for the person who delegated it."""
    waiting = {a.role for a in gate.approvers if a.approvals < a.needed
               and (gate.open_stage is None or a.stage <= gate.open_stage)}
    choices: list[Choice] = []
    approved = {person for d in gate.decisions if d["verdict"] == "approve" and d["current"]
                for person in (d["by"], d["actor"])}  # one person gives one approval
    for grant in caller.grants_on(detail.id, detail.org_unit_id):
        if grant.role in waiting and not {grant.principal, caller.username} & approved:
            choice = Choice(f"{grant.role}|{grant.principal if grant.delegated else ''}",
                            role_title(definition, grant.role) + (f", for {grant.principal}" if grant.delegated
                                                                  else ""))
            if choice not in choices:
                choices.append(choice)
    return choices


def _told(engine: Engine, definition: Definition, dest: str, data: dict[str, Any]) -> tuple[str, ...]:
    """The roles told when a credential enters ``dest``: those following every move, the owners of the
    checklist items it opens and the approvers of its gates."""
    roles = list(definition.notify.state_changed)
    for _, requirements in engine.requirements_from(dest):
        if definition.notify.item_assigned:
            roles += [item.owner for item in requirements.items_for(data)]
        if definition.notify.decision_needed:
            roles += [a.role for a in requirements.approvers_for(data)]
    return tuple(role_title(definition, role) for role in dict.fromkeys(roles))


def _consequences(definition: Definition, gate: GateStatus, missing: tuple[Unmet, ...], choices: tuple[Choice, ...],
                  dest_title: str, told: tuple[str, ...]) -> dict[str, str]:
    """What each verdict would do, in a sentence, for the role the person would decide in."""
    decided = " and ".join(role_title(definition, r) for r in definition.notify.decided) or "nobody"
    role = choices[0].value.split("|")[0] if choices else None
    rule = next((a for a in gate.approvers if a.role == role), None)
    approve = "Your approval is recorded."
    if rule is not None:
        after = rule.approvals + 1
        rest = [u for u in missing if not (u.kind == "approval" and u.subject == rule.role and after >= rule.needed)]
        if not rest:
            people = f" {len(told)} roles and departments are told: {', '.join(told)}." if told else ""
            approve = f"Your approval completes {gate.title}: the credential moves to {dest_title}.{people}"
        else:
            count = f" ({after} of {rule.needed} approvals from {role_title(definition, rule.role)})" \
                if rule.needed > 1 else ""
            approve = (f"Your approval is recorded{count}. {gate.title} then still waits for: "
                       f"{missing_summary(definition, gate, tuple(rest), rule.role)}.")
    return {
        "approve": approve,
        "request_changes": f"{gate.title} stays open and cannot pass until the proposal or its checklist changes. "
                           f"{decided} are told, with your comment.",
        "reject": f"{gate.title} cannot pass while your rejection stands (you may change your decision later). "
                  f"{decided} are told, with your comment.",
    }


def move_consequence(definition: Definition, state: str, trigger: str) -> str:
    """What a move that needs no gate does, in a sentence people confirm before doing it."""
    transition = next(t for t in definition.transitions if t.trigger == trigger)
    here = definition.states[state].title
    if transition.dest not in definition.states:  # "@previous"
        return f"It goes back to where it was before {here}."
    dest = definition.states[transition.dest]
    told = " and ".join(role_title(definition, r) for r in definition.notify.state_changed)
    tell = f" {told} are told, with your reason." if told else ""
    if dest.final:
        return f"This is final: once {dest.title}, the credential can no longer change.{tell}"
    back = next((t for t in definition.transitions
                 if transition.dest in t.source and t.dest not in definition.states), None)
    if back is not None:
        return (f"It moves to {dest.title} and its work in {here} pauses; “{back.title or back.trigger}” brings it "
                f"back to {here} later.{tell}")
    return f"It moves from {here} to {dest.title}.{tell}"
