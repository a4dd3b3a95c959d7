"""What one person sees when deciding one gate: the proposal (with what changed since they last looked), the
checklist evidence by role, the gate's approval path (stages, who decided what and when, who is next, quorum
counts), and what each decision would do. Reads only; deciding is :meth:`CredentialCommands.decide`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workflow.definitions.graph import transition_from
from workflow.definitions.model import Definition
from workflow.definitions.words import counted, listed, policy_words, role_title, verdict_words
from workflow.engine import Engine
from workflow.engine.requirements import PROPOSAL
from workflow.errors import NotFound, Unmet
from workflow.services.access import AccessService, Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.services.evidence import Evidence, EvidenceService
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
    document: Evidence | None = None  # the newest version of its evidence, if any
    document_new: bool = False  # a version was attached since the person last looked


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
    who_name: str
    actor_name: str
    at: datetime | None
    comment: str
    current: bool  # False once the evidence it was made on has changed
    outdated_because: str = ""  # what changed since, in words


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
    """A way the person may decide: in one of their roles, in their own name or as someone's delegate.
    ``why_not_approve`` says why approving is not open to them this way (they have approved, or proposed it)."""

    value: str
    label: str
    why_not_approve: str = ""


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
    mine: PathDecision | None = None  # the person's own decision of this round, if any
    names: dict[str, str] = field(default_factory=dict)  # display names of the people in it, by username
    proposal: Evidence | None = None  # the newest version of the proposal's own document, if any
    proposal_new: bool = False

    @property
    def may_approve(self) -> bool:
        """Whether approving is open to the person in at least one of their choices."""
        return any(not choice.why_not_approve for choice in self.choices)

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
                 looks: LookService, evidence: EvidenceService) -> None:
        self._evidence = evidence
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
        since = [e for e in history if look is not None and e.seq > look[0]]
        others = [e for e in since if e.actor != by.username]  # the person's own actions are no news to them
        requirements = dict(engine.requirements_from(detail.state))[status.trigger]
        option = next((o for o in detail.options if o.trigger == status.trigger), None)
        if option is None:
            raise NotFound("open gate", gate)
        roles = {item.owner for item in detail.checklist if item.trigger == status.trigger} | {
            a.role for a in status.approvers}
        holders = self._access.holders_by_role(detail.id, detail.org_unit_id, roles)
        gate_spec = definition.gates[gate]
        transition = transition_from(definition, detail.state, status.trigger)
        dest = option.dest if option.dest in definition.states else (detail.previous_state or detail.state)
        told = _told(engine, definition, dest, detail.data)
        choices = tuple(choices_for(definition, by, detail, status))
        documents: dict[str, Evidence] = {}
        for document in self._evidence.list(credential_id=credential_id, by=by):  # by version: the newest stays
            documents[document.target] = document
        names = self._access.names_of({e.actor for e in history} | {d["by"] for d in status.decisions}
                                      | {d.actor for d in documents.values()})
        stages = tuple(_stages(definition, status, holders, history, names))
        mine = [d for stage in stages for step in stage.steps for d in step.decisions
                if by.username in (d.who, d.actor) and d.current]
        return GateSheet(
            credential=detail, gate=status, description=gate_spec.description,
            dest_title=definition.states[dest].title, confirm=transition.confirm,
            waiting_since=detail.state_entered_at,
            due_at=detail.state_entered_at + timedelta(days=gate_spec.due_days) if gate_spec.due_days else None,
            fields=tuple(_fields(definition, detail, {name for name, _ in requirements.fields}, since, by.username)),
            evidence=tuple(_evidence(definition, detail, status.trigger, holders, others, documents)),
            proposal=documents.get(PROPOSAL),
            proposal_new=any(e.kind == "evidence" and e.details.get("target") == PROPOSAL for e in others),
            stages=stages, missing=option.unmet, choices=choices,
            consequences=_consequences(definition, status, option.unmet, choices, definition.states[dest].title, told,
                                       by.username),
            discussion=tuple(e for e in history if e.kind in ("comment", "decision") and e.comment
                             and e.details.get("gate") == gate),
            seen_at=look[1] if look is not None else None, changes_since=len(others), people_told=told, names=names,
            missing_summary=detail.missing[status.trigger].summary() if status.trigger in detail.missing
            else missing_summary(definition, status, option.unmet), mine=mine[-1] if mine else None,
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


def _fields(definition: Definition, detail: CredentialDetail, required: set[str], since: list[HistoryEvent],
            me: str) -> list[FieldLine]:
    before: dict[str, Any] = {}
    last_by: dict[str, str] = {}
    for event in since:  # the value each field had when the person last looked: the first "before" after it
        if event.kind == "data":
            for name, pair in (event.details.get("changes") or {}).items():
                before.setdefault(name, pair[0])
                last_by[name] = event.actor
    lines = []
    for key, spec in definition.fields.items():
        value = detail.data.get(key)
        changed = key in before and before[key] != value and last_by[key] != me  # not news if they wrote it last
        lines.append(FieldLine(key, spec.label or key, value, key in required, changed, before.get(key)))
    return sorted(lines, key=lambda line: (not line.required,))  # what the gate needs first, else in order


def _evidence(definition: Definition, detail: CredentialDetail, trigger: str, holders: dict[str, list[str]],
              since: list[HistoryEvent], documents: dict[str, Evidence]) -> list[EvidenceGroup]:
    touched = {e.details.get("item") for e in since if e.kind == "checklist"}
    attached = {e.details.get("target") for e in since if e.kind == "evidence"}
    grouped: dict[str, list[EvidenceItem]] = {}
    for item in detail.checklist:
        if item.trigger == trigger:
            grouped.setdefault(item.owner, []).append(EvidenceItem(
                item.key, item.title, item.done, item.note, item.done_by, item.updated_at, item.key in touched,
                documents.get(item.key), item.key in attached))
    return [EvidenceGroup(role, role_title(definition, role), tuple(holders.get(role, ())), tuple(items))
            for role, items in grouped.items()]


def _stages(definition: Definition, status: GateStatus, holders: dict[str, list[str]],
            history: list[HistoryEvent], names: dict[str, str]) -> list[Stage]:
    when: dict[tuple[str, str], datetime] = {}
    for event in history:  # the time of each person's latest decision in a role
        if event.kind == "decision" and event.details.get("gate") == status.gate:
            who = event.details.get("on_behalf_of") or event.actor
            when[(event.details.get("role", ""), who)] = event.at
    stages: dict[int, list[PathStep]] = {}
    for rule in status.approvers:
        decisions = tuple(
            PathDecision(d["by"], d["actor"], d["verdict"], verdict_words(d["verdict"]), names.get(d["by"], d["by"]),
                         names.get(d["actor"], d["actor"]),
                         when.get((d["role"], d["by"])), d["comment"], d["current"], d.get("outdated_because", ""))
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
    or for the person who delegated it. A person who has approved may still ask for changes or reject (approving
    twice is not open to them), and a proposer may not approve a gate that refuses its proposer's approval."""
    waiting = {a.role for a in gate.approvers if a.approvals < a.needed
               and (gate.open_stage is None or a.stage <= gate.open_stage)}
    approved = {person for d in gate.decisions if d["verdict"] == "approve" and d["current"]
                for person in (d["by"], d["actor"])}  # one person gives one approval
    mine = {d["role"] for d in gate.decisions if d["current"] and caller.username in (d["by"], d["actor"])}
    self_approval = definition.gates[gate.gate].allow_self_approval
    choices: list[Choice] = []
    for grant in caller.grants_on(detail.id, detail.org_unit_id):
        if grant.role not in waiting and grant.role not in mine:
            continue
        people = {grant.principal, caller.username}
        why = ("you have approved it" if people & approved else
               f"{detail.created_by} proposed it, and this gate does not take its proposer's approval"
               if not self_approval and detail.created_by in people else
               "its turn has not come" if grant.role not in waiting else "")
        choice = Choice(f"{grant.role}|{grant.principal if grant.delegated else ''}",
                        role_title(definition, grant.role) + (f", for {grant.principal}" if grant.delegated else ""),
                        why)
        if all(c.value != choice.value for c in choices):
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
                  dest_title: str, told: tuple[str, ...], me: str) -> dict[str, str]:
    """What each verdict would do, in a sentence (for each way the person may decide, when there are several)."""
    decided = listed([role_title(definition, r) for r in definition.notify.decided])
    tell = f" {decided} {'is' if len(definition.notify.decided) == 1 else 'are'} told, with your comment." \
        if decided else ""
    approvals = [(c, _approve_text(definition, gate, missing, c, dest_title, told, me))
                 for c in choices if not c.why_not_approve]
    approve = approvals[0][1] if len(approvals) == 1 else \
        " ".join(f"As {c.label}: {text}" for c, text in approvals) if approvals else ""
    return {
        "approve": approve,
        "request_changes": f"{gate.title} stays open and cannot pass until the proposal or its checklist changes."
                           + tell,
        "reject": f"{gate.title} cannot pass while your rejection stands (you may change your decision later)."
                  + tell,
    }


def _approve_text(definition: Definition, gate: GateStatus, missing: tuple[Unmet, ...], choice: Choice,
                  dest_title: str, told: tuple[str, ...], me: str) -> str:
    role, _, principal = choice.value.partition("|")
    rule = next((a for a in gate.approvers if a.role == role), None)
    if rule is None:
        return "Your approval is recorded."
    after = rule.approvals + 1
    who = principal or me
    objections = {d["role"] for d in gate.decisions if d["current"] and d["verdict"] != "approve" and d["by"] == who}
    rest: list[Unmet] = []
    for u in missing:  # approving fills this rule's count and replaces the person's own objection in the role
        if u.kind == "approval" and u.subject == rule.role and after >= rule.needed:
            continue
        if u.kind == "decision" and u.subject == rule.role and rule.role in objections:
            objections.discard(rule.role)
            continue
        rest.append(u)
    yours = f"Your approval{f' for {principal}' if principal else ''}"
    if not rest:
        people = f" {counted(len(told), 'role')} told: {', '.join(told)}." if told else ""
        return f"{yours} completes {gate.title}: the credential moves to {dest_title}.{people}"
    count = f" ({after} of {rule.needed} approvals from {role_title(definition, rule.role)})" if rule.needed > 1 \
        else ""
    return (f"{yours} is recorded{count}. {gate.title} then still waits for: "
            f"{missing_summary(definition, gate, tuple(rest), rule.role)}.")


def move_consequence(definition: Definition, state: str, trigger: str, previous: str | None = None) -> str:
    """What a move that needs no gate does, in a sentence people confirm before doing it."""
    transition = transition_from(definition, state, trigger)
    here = definition.states[state].title
    told = listed([role_title(definition, r) for r in definition.notify.state_changed])
    tell = f" {told} {'is' if len(definition.notify.state_changed) == 1 else 'are'} told, with your reason." \
        if told else ""
    if transition.dest not in definition.states:  # "@previous"
        back = definition.states[previous].title if previous in definition.states else "the phase it came from"
        return f"It goes back to {back}.{tell}"
    dest = definition.states[transition.dest]
    if dest.final:
        return f"This is final: once {dest.title}, the credential can no longer change.{tell}"
    resume = next((t for t in definition.transitions
                   if transition.dest in t.source and t.dest not in definition.states), None)
    if resume is not None:
        return (f"It moves to {dest.title} and its work in {here} pauses; “{resume.title or resume.trigger}” brings "
                f"it back to {here} later.{tell}")
    return f"It moves from {here} to {dest.title}.{tell}"
