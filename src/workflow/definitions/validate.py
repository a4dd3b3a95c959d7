"""Whole-definition checks run at load time: references, graph shape, policies and timers.

Every problem names the line, the rule and the offending id, with a did-you-mean hint where one fits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from difflib import get_close_matches

from workflow.definitions.meetings import meeting_rule_problem
from workflow.definitions.model import (
    ANY_STATE,
    DURATION_PATTERN,
    PREVIOUS,
    ChecklistItem,
    Condition,
    Definition,
    Transition,
    fits_in_years,
    is_duration,
)
from workflow.definitions.shape import Shape
from workflow.definitions.yamlsource import Path, Problem, SourceMap

MAX_HINTS = 200
MAX_YEARS = 100  # the longest duration or day count a definition may give


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``— did you mean 'x'?`` suffix for the closest candidate, or an empty string."""
    if len(word) > 64:  # no identifier is this long, and comparing long texts takes time
        return ""
    match = get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" — did you mean '{match[0]}'?" if match else ""


class _Checker:
    def __init__(self, definition: Definition, lines: SourceMap) -> None:
        self.d = definition
        self.lines = lines
        self.problems: list[Problem] = []
        self.hints = MAX_HINTS
        self.shape = Shape(definition)
        self.claims = _Claims(definition)

    def add(self, path: Path, rule: str, message: str, *, key: bool = False) -> None:
        self.problems.append(Problem(self.lines.line_of(path, key=key), rule, message, path))

    def ref(self, path: Path, kind: str, name: str, known: Collection[str]) -> bool:
        if name in known:
            return True
        self.hints -= 1  # a hint compares the name with every known one: a few hundred are plenty
        hint = did_you_mean(name, known) if self.hints >= 0 else ""
        self.add(path, f"unknown-{kind}", f"unknown {kind} '{name}'{hint}")
        return False

    def run(self) -> list[Problem]:
        for action in ("create", "edit"):
            for position, role in enumerate(getattr(self.d.permissions, action)):
                self.ref(("permissions", action, position), "role", role, self.d.roles)
        for event in ("decided", "state_changed", "plan_alerts"):
            for position, role in enumerate(getattr(self.d.notify, event)):
                self.ref(("notify", event, position), "role", role, self.d.roles)
        self.roles()
        self.states()
        self.fields()
        self.checklists()
        self.gates()
        self.transitions()
        if not any(p.rule in {"unknown-state", "no-initial", "several-initials"} for p in self.problems):
            self.graph()
        self.timers()
        self.days()
        return self.problems

    def states(self) -> None:
        initials = [sid for sid, state in self.d.states.items() if state.initial]
        if not initials:
            self.add(("states",), "no-initial", "no state is marked 'initial: true'")
        for sid in initials[1:]:
            self.add(("states", sid), "several-initials",
                     f"state '{sid}' is marked initial, but so is '{initials[0]}'; exactly one may be", key=True)
        if not any(state.final for state in self.d.states.values()):
            self.add(("states",), "no-final", "no state is marked 'final: true'")
        for sid, state in self.d.states.items():
            if state.initial and state.final:
                self.add(("states", sid), "initial-and-final", f"state '{sid}' cannot be both initial and final",
                         key=True)

    def fields(self) -> None:
        for name, field in self.d.fields.items():
            if field.type == "choice" and not field.options:
                self.add(("fields", name), "choice-without-options", f"field '{name}' is a choice with no options",
                         key=True)
            if field.pathway is not None and field.type != "credentials":
                self.add(("fields", name, "pathway"), "pathway-not-credentials",
                         f"field '{name}' names a pathway ({field.pathway}) but is of type {field.type}; "
                         "a pathway field is of type credentials")
        kinds: dict[str, str] = {}
        for name, field in self.d.fields.items():
            if field.pathway is None:
                continue
            if field.pathway in kinds:
                self.add(("fields", name, "pathway"), "duplicate-pathway",
                         f"fields '{kinds[field.pathway]}' and '{name}' both say '{field.pathway}'; one field a kind")
            kinds.setdefault(field.pathway, name)

    def condition(self, path: Path, when: Condition | None) -> None:
        for name, expected in (when or {}).items():
            if not self.ref((*path, name), "field", name, self.d.fields):
                continue
            field = self.d.fields[name]
            values = expected if isinstance(expected, tuple) else (expected,)
            for value in values:
                if field.type == "boolean" and not isinstance(value, bool):
                    self.add((*path, name), "bad-condition",
                             f"field '{name}' is a boolean; compare it with true or false, not {value!r}")
                elif field.type == "choice" and value not in field.options:
                    self.add((*path, name), "bad-condition",
                             f"'{value}' is not an option of field '{name}'{did_you_mean(str(value), field.options)}")

    def item_list(self, path: Path, items: tuple[ChecklistItem, ...], seen: dict[str, Path]) -> None:
        for index, item in enumerate(items):
            here = (*path, index)
            if item.key in seen:
                first = self.lines.line_of(seen[item.key])
                self.add((*here, "key"), "duplicate-item",
                         f"checklist item '{item.key}' is defined twice (also on line {first})")
            else:
                seen[item.key] = (*here, "key")
            self.ref((*here, "owner"), "role", item.owner, self.d.roles)
            self.condition((*here, "when"), item.when)

    def checklists(self) -> None:
        seen: dict[str, Path] = {}
        for gid, gate in self.d.gates.items():
            self.item_list(("gates", gid, "checklist"), gate.checklist, seen)
        for index, transition in enumerate(self.d.transitions):
            self.item_list(("transitions", index, "checklist"), transition.checklist, seen)

    def required_fields(self, path: Path, names: tuple[str, ...]) -> None:
        for index, name in enumerate(names):
            self.ref((*path, index), "field", name, self.d.fields)

    def roles(self) -> None:
        for rid, role in self.d.roles.items():
            if role.meets is None:
                if role.agenda_closes_days:
                    self.add(("roles", rid, "agenda_closes_days"), "bad-meets",
                             f"role '{rid}' sets agenda_closes_days but has no 'meets' schedule")
                continue
            if role.kind != "committee":
                self.add(("roles", rid, "meets"), "bad-meets",
                         f"role '{rid}' is a {role.kind}; only a committee meets")
            problem = meeting_rule_problem(role.meets)
            if problem:
                self.add(("roles", rid, "meets"), "bad-meets",
                         f"role '{rid}': 'meets' is not a recurrence rule ({problem}); write one such as "
                         "FREQ=MONTHLY;BYDAY=1TU")

    def gates(self) -> None:
        used = {t.gate for t in self.d.transitions}
        for gid, gate in self.d.gates.items():
            path: Path = ("gates", gid)
            if not gate.approvers:
                self.add(path, "gate-without-approver", f"gate '{gid}' names no approvers", key=True)
            if gid not in used:
                self.add(path, "unused-gate", f"gate '{gid}' is not used by any transition", key=True)
            self.required_fields((*path, "requires_fields"), gate.requires_fields)
            stages = sorted({a.stage for a in gate.approvers})
            if stages and stages != list(range(1, len(stages) + 1)):
                self.add((*path, "approvers"), "stage-gap",
                         f"gate '{gid}' has approval stages {stages}; stages must run 1, 2, 3... without gaps")
            for index, approver in enumerate(gate.approvers):
                here = (*path, "approvers", index)
                self.ref((*here, "role"), "role", approver.role, self.d.roles)
                self.condition((*here, "when"), approver.when)
                if approver.policy == "n_of" and approver.n is None:
                    self.add(here, "bad-policy", f"approver '{approver.role}' has policy n_of but no 'n'")
                if approver.policy != "n_of" and approver.n is not None:
                    self.add((*here, "n"), "bad-policy",
                             f"approver '{approver.role}' sets 'n' but its policy is '{approver.policy}', not n_of")

    def transitions(self) -> None:
        for index, transition in enumerate(self.d.transitions):
            path: Path = ("transitions", index)
            for position, source in enumerate(transition.source):
                if source == ANY_STATE:
                    continue
                if self.ref((*path, "source", position), "state", source, self.d.states) and \
                        self.d.states[source].final:
                    self.add((*path, "source", position), "final-has-exit",
                             f"'{transition.trigger}' leaves final state '{source}'; final states have no exits")
            for source, earlier in self.claims.claim(transition, index):
                self.add((*path, "trigger"), "duplicate-transition",
                         f"'{transition.trigger}' from '{source}' is already defined "
                         f"on line {self.lines.line_of(('transitions', earlier))}")
            if transition.dest != PREVIOUS:
                self.ref((*path, "dest"), "state", transition.dest, self.d.states)
            if transition.gate is not None:
                self.ref((*path, "gate"), "gate", transition.gate, self.d.gates)
            self.required_fields((*path, "requires_fields"), transition.requires_fields)
            for position, role in enumerate(transition.by):
                self.ref((*path, "by", position), "role", role, self.d.roles)

    def graph(self) -> None:
        initial = next(sid for sid, state in self.d.states.items() if state.initial)
        shape = self.shape
        for index, transition in enumerate(self.d.transitions):
            if transition.dest == PREVIOUS:
                sources = shape.nonfinal if ANY_STATE in transition.source else \
                    [s for s in transition.source if s in self.d.states]
                if not any(shape.has_way_in(source) for source in sources):
                    self.add(("transitions", index, "dest"), "no-previous",
                             f"'{transition.trigger}' returns to the previous state, but no transition leads into "
                             f"{', '.join(transition.source)}")
        reachable = shape.reachable(initial)
        finals = [sid for sid, state in self.d.states.items() if state.final]
        can_finish = shape.can_reach(finals)
        for sid, state in self.d.states.items():
            if sid not in reachable:
                self.add(("states", sid), "unreachable", f"state '{sid}' cannot be reached from '{initial}'",
                         key=True)
            elif not state.final and not shape.has_way_out(sid):
                self.add(("states", sid), "dead-end",
                         f"state '{sid}' has no way out and is not final", key=True)
            elif not state.final and finals and sid not in can_finish:
                self.add(("states", sid), "no-path-to-final",
                         f"no final state can be reached from state '{sid}'", key=True)

    def duration(self, path: Path, timer: str, value: str, example: str) -> None:
        if re.match(DURATION_PATTERN, value) is None or (fits_in_years(value, MAX_YEARS) and not is_duration(value)):
            self.add(path, "bad-duration", f"timer '{timer}': '{value}' is not an ISO 8601 duration ({example})")
        elif not fits_in_years(value, MAX_YEARS):
            self.add(path, "too-long", f"timer '{timer}': '{value}' is longer than {MAX_YEARS} years; "
                                       "no date that far ahead can be kept")

    def days(self) -> None:
        """Day counts become dates (a plan, a due date): each must stay within ``MAX_YEARS``."""
        limit = MAX_YEARS * 366
        counts: list[tuple[Path, str, int | None]] = []
        for sid, state in self.d.states.items():
            counts.append((("states", sid, "planned_days"), f"state '{sid}'", state.planned_days))
        for rid, role in self.d.roles.items():
            counts.append((("roles", rid, "agenda_closes_days"), f"role '{rid}'", role.agenda_closes_days))
        for gid, gate in self.d.gates.items():
            counts.append((("gates", gid, "due_days"), f"gate '{gid}'", gate.due_days))
            counts.extend(((("gates", gid, "checklist", i, "due_days"), f"checklist item '{item.key}'", item.due_days)
                           for i, item in enumerate(gate.checklist)))
        for index, transition in enumerate(self.d.transitions):
            counts.extend(((("transitions", index, "checklist", i, "due_days"), f"checklist item '{item.key}'",
                            item.due_days) for i, item in enumerate(transition.checklist)))
        for path, owner, days in counts:
            if days is not None and days > limit:
                self.add(path, "too-long", f"{owner}: {path[-1]} {days} is more than {limit} days "
                                           f"({MAX_YEARS} years); no date that far ahead can be kept")

    def timers(self) -> None:
        seen: set[str] = set()
        all_triggers = {t.trigger for t in self.d.transitions}
        for index, timer in enumerate(self.d.timers):
            path: Path = ("timers", index)
            if timer.key in seen:
                self.add((*path, "key"), "duplicate-timer", f"timer '{timer.key}' is defined twice")
            seen.add(timer.key)
            states = [s for pos, s in enumerate(timer.state) if self.ref((*path, "state", pos), "state", s,
                                                                         self.d.states)]
            if timer.after is None and timer.at is None and timer.every is None:
                self.add(path, "bad-timer", f"timer '{timer.key}' needs one of 'after', 'at' or 'every'")
            for name in ("after", "every"):
                value = getattr(timer, name)
                if value is not None:
                    self.duration((*path, name), timer.key, value, "e.g. P14D, P12M, PT4H")
            for pos, value in enumerate(timer.before):
                self.duration((*path, "before", pos), timer.key, value, "e.g. P90D")
            for name in ("at", "every_field"):
                field_name = getattr(timer, name)
                if field_name is not None and self.ref((*path, name), "field", field_name, self.d.fields):
                    expected = "date" if name == "at" else "integer"
                    if self.d.fields[field_name].type != expected:
                        self.add((*path, name), "bad-field-type",
                                 f"timer '{timer.key}': field '{field_name}' must be of type {expected}")
            for pos, role in enumerate(timer.notify):
                self.ref((*path, "notify", pos), "role", role, self.d.roles)
            if timer.action == "fire":
                if timer.trigger is None:
                    self.add(path, "bad-timer", f"timer '{timer.key}' fires a transition but names no 'trigger'")
                elif self.ref((*path, "trigger"), "trigger", timer.trigger, all_triggers):
                    for state in states:
                        if not self.shape.has_trigger(state, timer.trigger):
                            self.add((*path, "trigger"), "trigger-not-from-state",
                                     f"timer '{timer.key}' fires '{timer.trigger}', which state '{state}' has not")
            elif timer.action in ("remind", "escalate", "warn") and not timer.notify:
                self.add(path, "bad-timer", f"timer '{timer.key}' ({timer.action}) names no roles to notify")


class _Claims:
    """Which transition each (trigger, state) pair belongs to, with ``*`` kept as one claim per transition."""

    def __init__(self, definition: Definition) -> None:
        self.d = definition
        self.nonfinal = [sid for sid, state in definition.states.items() if not state.final]
        self.explicit: dict[tuple[str, str], int] = {}
        self.wild: dict[str, list[tuple[str, int]]] = defaultdict(list)  # trigger → (dest, index)
        self.explicit_by_trigger: dict[str, list[str]] = defaultdict(list)  # its non-final explicit sources

    def claim(self, transition: Transition, index: int) -> list[tuple[str, int]]:
        """Record the pairs of ``transition``; return (state, earlier transition) for each already taken."""
        trigger, dest = transition.trigger, transition.dest
        clashes: list[tuple[str, int]] = []
        if ANY_STATE in transition.source:
            for source in self.explicit_by_trigger[trigger][:2]:  # all but one of them clash if any does
                if source != dest:
                    clashes.append((source, self.explicit[(trigger, source)]))
                    break
            else:
                for other_dest, other in self.wild[trigger][:1]:
                    shared = next((s for s in self.nonfinal if s not in {dest, other_dest}), None)
                    if shared is not None:
                        clashes.append((shared, other))
            self.wild[trigger].append((dest, index))
            return clashes
        for source in transition.source:
            if source not in self.d.states or source == ANY_STATE:
                continue
            if (trigger, source) in self.explicit:
                clashes.append((source, self.explicit[(trigger, source)]))
                continue
            wild = next((other for other_dest, other in self.wild[trigger][:2]
                         if other_dest != source and not self.d.states[source].final), None)
            if wild is not None:
                clashes.append((source, wild))
                continue
            self.explicit[(trigger, source)] = index
            if not self.d.states[source].final:
                self.explicit_by_trigger[trigger].append(source)
        return clashes


def validate_definition(definition: Definition, lines: SourceMap) -> list[Problem]:
    """Check a structurally valid definition as a whole and return every problem found."""
    return _Checker(definition, lines).run()
