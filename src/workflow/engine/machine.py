"""The engine: one ``transitions`` machine per definition version, shared by every credential.

The engine is pure. It is given a credential's :class:`Facts` and answers which transitions are possible and
what is missing for the others, or performs a transition when every guard holds. It keeps no per-credential
objects: each call drives the shared machine with a small throw-away subject.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, cast

from transitions import EventData, Machine

from workflow.definitions.graph import Edge, edges
from workflow.definitions.model import Definition, Transition
from workflow.definitions.words import state_title, transition_title
from workflow.engine.facts import Facts
from workflow.engine.requirements import Requirements
from workflow.errors import TransitionNotAllowed, Unmet


@dataclass(frozen=True)
class Option:
    """A transition out of the current state and what still stands in its way (nothing if allowed)."""

    trigger: str
    dest: str
    title: str
    gate: str | None
    unmet: tuple[Unmet, ...]

    @property
    def allowed(self) -> bool:
        """Whether the transition could fire now."""
        return not self.unmet


@dataclass(frozen=True)
class Outcome:
    """A transition the engine performed."""

    trigger: str
    source: str
    dest: str
    gate: str | None
    transition: Transition
    index: int


class _Subject:
    """The model the shared machine moves: a state plus the facts its guards read."""

    __slots__ = ("facts", "passed", "state", "unmet")

    def __init__(self, facts: Facts) -> None:
        self.state = facts.state
        self.facts = facts
        self.unmet: list[Unmet] = []
        self.passed: _Guard | None = None


class _Guard:
    """The condition of one edge; records what is missing on the subject when it fails."""

    __slots__ = ("edge", "requirements")

    def __init__(self, edge: Edge, requirements: Requirements) -> None:
        self.edge = edge
        self.requirements = requirements

    def unmet(self, facts: Facts) -> list[Unmet]:
        if self.edge.previous is not None and facts.previous_state != self.edge.previous:
            back = state_title(self.requirements.definition, self.edge.previous)
            return [Unmet("state", self.edge.previous, f"It only returns to {back}")]
        return self.requirements.unmet(facts)

    def __call__(self, event: EventData) -> bool:
        subject = cast(_Subject, event.model)
        missing = self.unmet(subject.facts)
        if missing:
            if self.edge.previous is None:
                subject.unmet.extend(missing)
            return False
        subject.passed = self
        return True


class Engine:
    """Decides and performs transitions for every credential of one definition version."""

    def __init__(self, definition: Definition) -> None:
        """Build the machine once.

        Args:
            definition: a validated definition (see :func:`workflow.definitions.loader.parse_definition`).
        """
        self.definition = definition
        self.requirements = [Requirements.compile(definition, i) for i in range(len(definition.transitions))]
        self._guards: dict[str, list[_Guard]] = defaultdict(list)
        specs: list[dict[str, Any]] = []
        for edge in edges(definition):
            guard = _Guard(edge, self.requirements[edge.index])
            self._guards[edge.source].append(guard)
            specs.append({"trigger": edge.trigger, "source": edge.source, "dest": edge.dest, "conditions": [guard]})
        self._triggers = {
            source: {g.edge.trigger for g in guards} for source, guards in self._guards.items()
        }
        self.items = {item.key: item for item in definition.checklist_items()}
        self._needs: dict[tuple[str, str | None], tuple[bool, bool]] = {}
        initial = next(sid for sid, state in definition.states.items() if state.initial)
        self.initial = initial
        self._machine = Machine(
            model=None, states=list(definition.states), initial=initial, transitions=specs,
            auto_transitions=False, send_event=True,
        )

    def options(self, facts: Facts) -> list[Option]:
        """Every transition out of the credential's state, each with what is missing (empty when allowed).

        Transitions that return to the previous state are listed only for the state actually left.
        """
        found = []
        for guard in self._guards.get(facts.state, ()):
            if guard.edge.previous is not None and guard.edge.previous != facts.previous_state:
                continue
            transition = self.definition.transitions[guard.edge.index]
            found.append(Option(guard.edge.trigger, guard.edge.dest, transition.title or guard.edge.trigger,
                                transition.gate, tuple(guard.unmet(facts))))
        return found

    def fire(self, facts: Facts, trigger: str) -> Outcome:
        """Perform ``trigger`` if every guard holds.

        Args:
            facts: the credential's facts.
            trigger: the transition to perform.

        Returns:
            The outcome: source, destination and the transition taken.

        Raises:
            TransitionNotAllowed: if the state has no such transition, or with ``unmet`` listing exactly what is
                missing.
        """
        if trigger not in self._triggers.get(facts.state, ()):
            raise self.refusal(trigger, facts.state)
        subject = _Subject(facts)
        if not self._machine.events[trigger].trigger(subject) or subject.passed is None:
            raise self.refusal(trigger, facts.state, subject.unmet or [Unmet(
                "state", facts.state, f"“{transition_title(self.definition, trigger, facts.state)}” cannot return "
                f"from {state_title(self.definition, facts.state)} to where it came from")])
        edge = subject.passed.edge
        transition = self.definition.transitions[edge.index]
        return Outcome(trigger, facts.state, subject.state, transition.gate, transition, edge.index)

    def force(self, facts: Facts, trigger: str) -> Outcome:
        """Perform ``trigger`` without looking at its guards — only for an administrator's explicit override.

        Raises:
            TransitionNotAllowed: if the state has no such transition (an override cannot invent one).
        """
        for guard in self._guards.get(facts.state, ()):
            edge = guard.edge
            if edge.trigger == trigger and (edge.previous is None or edge.previous == facts.previous_state):
                transition = self.definition.transitions[edge.index]
                return Outcome(trigger, facts.state, edge.dest, transition.gate, transition, edge.index)
        raise self.refusal(trigger, facts.state)

    def refusal(self, trigger: str, state: str, unmet: list[Unmet] | None = None) -> TransitionNotAllowed:
        """The refusal of ``trigger`` from ``state``, in the definition's words."""
        return TransitionNotAllowed(trigger, state, unmet or (),
                                    trigger_title=transition_title(self.definition, trigger, state),
                                    state_title=state_title(self.definition, state))

    def triggers_from(self, state: str) -> set[str]:
        """The triggers defined out of ``state``."""
        return set(self._triggers.get(state, ()))

    def needs(self, state: str, trigger: str | None = None) -> tuple[bool, bool]:
        """Whether the transitions out of ``state`` (only ``trigger``'s, if given) look at checklist items and
        at gate decisions — so that callers fetch those facts only when a guard will read them."""
        key = (state, trigger)
        found = self._needs.get(key)
        if found is None:
            guards = [g for g in self._guards.get(state, ()) if trigger in (None, g.edge.trigger)]
            found = (any(g.requirements.items for g in guards), any(g.requirements.gate for g in guards))
            self._needs[key] = found
        return found

    def requirements_from(self, state: str) -> list[tuple[str, Requirements]]:
        """(trigger, requirements) of each transition out of ``state``, once per transition."""
        seen: set[int] = set()
        found = []
        for guard in self._guards.get(state, ()):
            if guard.edge.index not in seen:
                seen.add(guard.edge.index)
                found.append((guard.edge.trigger, self.requirements[guard.edge.index]))
        return found
