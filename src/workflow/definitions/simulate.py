"""Simulation of a definition against an organisation: where credentials would get stuck, and how long each path
from start to end is planned to take.

Pure: it is given the definition and how many active people hold each role (organisation-wide), and reads
nothing else. It walks every move a credential could make and reports, in people's words:

- **dead ends**: states a credential can reach but never leave towards an end (other than by a move open from
  every state, such as withdraw or hold), because no move out exists or every one is blocked;
- **gates nobody can pass**: an approver rule that asks for more people than hold the role;
- **unowned checklist items**: items owned by a role nobody holds;
- **timers that never fire**: in states no credential reaches, firing a move that is always refused, or always
  outrun by another timer that moves the credential on first;
- **paths**: each way from the initial state to an end along named moves, with its planned days (the sum of the
  ``planned_days`` of the states on it, as milestones count them).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import isodate

from workflow.definitions.graph import Edge, edges
from workflow.definitions.model import ANY_STATE, Approver, ChecklistItem, Definition, Timer, Transition
from workflow.definitions.words import listed, policy_words, role_title, state_title

MAX_PATHS = 200  # paths listed; a definition with more gets a count of them instead
MAX_STEPS = 20_000  # moves tried while enumerating paths (simple paths can be exponentially many)


@dataclass(frozen=True)
class Finding:
    """One thing the simulation found: ``kind`` is dead-end, gate-blocked, unowned-item, timer-never-fires or
    nobody-starts; ``subject`` the key it is about (state, gate, item or timer); ``message`` says it in words."""

    kind: str
    subject: str
    message: str


@dataclass(frozen=True)
class PlannedPath:
    """One way from the initial state to an end: its states (titles), its planned days, and the states on it
    that have no plan (their time is not counted)."""

    states: tuple[str, ...]
    days: int
    unplanned: tuple[str, ...]
    blocked: str = ""  # why a credential cannot take this path with the organisation as it is ("" if it can)

    @property
    def route(self) -> str:
        """The path as one line: "Ideation → Feasibility → ..."."""
        return " → ".join(self.states)


@dataclass(frozen=True)
class Simulation:
    """What :func:`simulate` found."""

    findings: tuple[Finding, ...]
    paths: tuple[PlannedPath, ...]
    more_paths: bool  # more paths exist than are listed
    from_anywhere: tuple[str, ...]  # the moves open from every state ("Withdraw → Withdrawn")

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind."""
        return [f for f in self.findings if f.kind == kind]


@dataclass
class _Org:
    d: Definition
    holders: Mapping[str, int]
    team_roles: set[str] = field(default_factory=set)

    def held(self, role: str) -> int:
        return self.holders.get(role, 0)

    def approver_gap(self, approver: Approver) -> str:
        """Why the approver rule cannot be met ("" if it can)."""
        need = approver.n or 1 if approver.policy == "n_of" else 1
        have = self.held(approver.role)
        if have >= need:
            return ""
        title = role_title(self.d, approver.role)
        if have == 0:
            return f"it needs the approval of the {title} ({policy_words(approver.policy, approver.n)}), and " \
                   "nobody holds that role"
        return f"it needs {need} approvals by the {title}, and only {have} " \
               f"{'person holds' if have == 1 else 'people hold'} that role"

    def item_gap(self, item: ChecklistItem) -> bool:
        """Whether nobody holds the item's owner role (and it cannot be given on a credential's team)."""
        return self.held(item.owner) == 0 and item.owner not in self.team_roles

    def move_gap(self, transition: Transition, *, by_timer: bool = False) -> str:
        """Why nobody configured can make the move ("" if someone can); conditional approvers and items (``when``)
        do not block, since a credential's data may avoid them."""
        if not by_timer:
            allowed = transition.by or self.d.permissions.edit
            if allowed and not any(self.held(role) for role in allowed):
                return f"{_move(transition)} may be made only by {_roles(self.d, allowed)}, and nobody holds " \
                       f"{'that role' if len(allowed) == 1 else 'those roles'}"
        gate = self.d.gates.get(transition.gate) if transition.gate else None
        if gate is not None:
            for approver in gate.approvers:
                gap = self.approver_gap(approver)
                if gap and approver.when is None:
                    return f"{_move(transition)} passes the gate “{gate.title}”: {gap}"
        items = [*(gate.checklist if gate else ()), *transition.checklist]
        for item in items:
            if item.when is None and self.item_gap(item):
                return f"{_move(transition)} needs “{item.title}”, owned by the {role_title(self.d, item.owner)}, " \
                       "and nobody holds that role"
        return ""


def simulate(definition: Definition, holders: Mapping[str, int]) -> Simulation:
    """Walk every move of ``definition`` with the organisation ``holders`` describes.

    Args:
        definition: a valid definition.
        holders: role key → how many active people hold it anywhere in the organisation.

    Returns:
        The findings, and the planned paths from the initial state to each end.
    """
    d = definition
    approver_roles = {a.role for gate in d.gates.values() for a in gate.approvers}
    team_roles = {rid for rid, role in d.roles.items() if role.kind == "person" and rid not in approver_roles}
    org = _Org(d, holders, team_roles if any(holders.get(r, 0) for r in d.permissions.edit) else set())
    findings: list[Finding] = []
    initial = next(sid for sid, state in d.states.items() if state.initial)

    if d.permissions.create and not any(org.held(role) for role in d.permissions.create):
        findings.append(Finding("nobody-starts", initial,
                                f"Nobody can start a credential: that takes {_roles(d, d.permissions.create)}, and "
                                "nobody holds " + ("that role" if len(d.permissions.create) == 1 else "those roles")))
    for gid, gate in d.gates.items():
        for approver in gate.approvers:
            gap = org.approver_gap(approver)
            if gap:
                when = f" when {_condition(d, approver.when)}" if approver.when else ""
                findings.append(Finding("gate-blocked", gid, f"Nobody can pass the gate “{gate.title}”{when}: {gap}"))
    seen_items: set[str] = set()
    for item in d.checklist_items():
        if item.key not in seen_items and org.held(item.owner) == 0:
            seen_items.add(item.key)
            team = " (the people who edit a credential can give someone that role on its team)" \
                if item.owner in org.team_roles else ""
            findings.append(Finding("unowned-item", item.key,
                                    f"Checklist item “{item.title}” is owned by the {role_title(d, item.owner)}, and "
                                    f"nobody in the organisation holds that role{team}"))

    all_edges = edges(d)
    gaps: dict[int, str] = {index: org.move_gap(t) for index, t in enumerate(d.transitions)}
    wild = {index for index, t in enumerate(d.transitions) if ANY_STATE in t.source}
    open_edges = [e for e in all_edges if not gaps[e.index]]
    # a return to the previous state reaches nothing new: it goes back to where the credential was
    reachable = _closure([initial], _links([e for e in open_edges if e.previous is None]))
    by_source: dict[str, list[Edge]] = defaultdict(list)
    for edge in all_edges:
        by_source[edge.source].append(edge)
    for sid, state in d.states.items():
        if state.final or sid not in reachable:
            continue
        leaving = [e for e in by_source[sid] if e.index not in wild]
        if any(not gaps[e.index] for e in leaving):
            continue
        blocked = sorted({gaps[e.index] for e in leaving})
        escapes = sorted({_move(d.transitions[e.index]) for e in by_source[sid]
                          if e.index in wild and not gaps[e.index]})
        why = f": {'; '.join(blocked)}" if blocked else ": no move leads on from it"
        escape = f" (only {listed(escapes)} {'leaves' if len(escapes) == 1 else 'leave'} it)" if escapes else ""
        findings.append(Finding("dead-end", sid, f"Credentials in {state.title} can go no further{escape}{why}"))

    findings.extend(_timers(d, org, reachable))
    paths, more = _paths(d, initial, [e for e in all_edges if e.index not in wild and e.previous is None], gaps)
    from_anywhere = tuple(f"{_move(d.transitions[i])} → {state_title(d, d.transitions[i].dest)}"
                          if d.transitions[i].dest in d.states else
                          f"{_move(d.transitions[i])} → the state it came from" for i in sorted(wild))
    return Simulation(tuple(findings), tuple(paths), more, from_anywhere)


def _timers(d: Definition, org: _Org, reachable: set[str]) -> list[Finding]:
    found: list[Finding] = []
    fire_after: dict[str, list[tuple[datetime, Timer]]] = defaultdict(list)  # state → timers certain to move it on
    for timer in d.timers:
        for state in timer.state:
            transition = _leaving(d, state, timer.trigger) if timer.action == "fire" and timer.trigger else None
            if timer.after and transition is not None and not (transition.gate or transition.checklist
                                                                or transition.requires_fields):
                fire_after[state].append((_due(timer.after), timer))
    for timer in d.timers:
        title = timer.title or timer.key
        states = list(timer.state)
        if not states:
            continue
        reasons: list[str] = []
        for state in states:
            where = state_title(d, state)
            if state not in reachable:
                reasons.append(f"no credential reaches {where}")
                continue
            if timer.action == "fire" and timer.trigger:
                transition = _leaving(d, state, timer.trigger)
                gap = org.move_gap(transition, by_timer=True) if transition is not None else ""
                if gap:
                    reasons.append(f"in {where} the move it makes is always refused ({gap})")
                    continue
            if timer.after:
                due = _due(timer.after)
                sooner = [other for at, other in fire_after[state] if at < due and other.key != timer.key]
                if sooner:
                    first = sooner[0]
                    reasons.append(f"in {where} “{first.title or first.key}” always moves the credential on first "
                                   f"(after {first.after}, this one after {timer.after})")
                    continue
            break  # it can fire in this state
        else:
            found.append(Finding("timer-never-fires", timer.key,
                                 f"Timer “{title}” can never fire: {'; '.join(reasons)}"))
    return found


def _paths(d: Definition, initial: str, named: list[Edge], gaps: Mapping[int, str]) -> tuple[list[PlannedPath], bool]:
    """Simple paths (no state twice) from the initial state to a final state, or to a state with no named move
    on, shortest first."""
    out: dict[str, list[Edge]] = defaultdict(list)
    for edge in named:
        out[edge.source].append(edge)
    found: list[PlannedPath] = []
    steps = 0
    more = False
    stack: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [(initial, (initial,), ())]
    while stack:
        state, route, blocks = stack.pop()
        steps += 1
        if steps > MAX_STEPS or len(found) >= MAX_PATHS:
            more = True
            break
        leaving = [e for e in out[state] if e.dest not in route]
        if d.states[state].final or not leaving:
            found.append(_planned(d, route, blocks))
            continue
        for edge in reversed(leaving):
            gap = gaps[edge.index]
            stack.append((edge.dest, (*route, edge.dest), (*blocks, gap) if gap else blocks))
    unique = {(p.route, p.blocked): p for p in found}  # two moves between the same states: one path
    return sorted(unique.values(), key=lambda p: (len(p.states), p.route, p.blocked)), more


def _planned(d: Definition, route: tuple[str, ...], blocks: tuple[str, ...]) -> PlannedPath:
    days = sum(d.states[s].planned_days or 0 for s in route if not d.states[s].final)
    unplanned = tuple(d.states[s].title for s in route if not d.states[s].final and not d.states[s].planned_days)
    return PlannedPath(tuple(d.states[s].title for s in route), days, unplanned, blocks[0] if blocks else "")


def _leaving(d: Definition, state: str, trigger: str | None) -> Transition | None:
    for transition in d.transitions:
        if transition.trigger == trigger and (state in transition.source or ANY_STATE in transition.source):
            return transition
    return None


def _due(duration: str) -> datetime:
    start = datetime(2000, 1, 1)
    moved: datetime = start + isodate.parse_duration(duration)
    return moved


def _links(found: list[Edge], *, backward: bool = False) -> dict[str, set[str]]:
    links: dict[str, set[str]] = defaultdict(set)
    for edge in found:
        if backward:
            links[edge.dest].add(edge.source)
        else:
            links[edge.source].add(edge.dest)
    return links


def _closure(start: list[str], links: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in links[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _move(transition: Transition) -> str:
    return f"“{transition.title or transition.trigger}”"


def _roles(d: Definition, roles: tuple[str, ...]) -> str:
    names = [f"the {role_title(d, r)}" for r in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _condition(d: Definition, when: Mapping[str, object] | None) -> str:
    parts = []
    for name, value in (when or {}).items():
        label = d.fields[name].label if name in d.fields else name
        shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        parts.append(f"{label} is {shown}")
    return listed(parts)
