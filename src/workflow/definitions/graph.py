"""The concrete edges of a definition: ``*`` sources and ``@previous`` destinations spelled out."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition, Transition
from workflow.errors import NotFound


@dataclass(frozen=True)
class Edge:
    """One concrete move ``source → dest`` by ``trigger``.

    ``index`` points at the transition in the definition it comes from; ``previous`` is set for an edge
    expanded from ``@previous`` and names the state the credential must have come from.
    """

    trigger: str
    source: str
    dest: str
    index: int
    previous: str | None = None


def sources_of(definition: Definition, index: int) -> list[str]:
    """The states a transition leaves from, with ``*`` meaning every non-final state but its destination."""
    transition = definition.transitions[index]
    if ANY_STATE in transition.source:
        return [sid for sid, state in definition.states.items() if not state.final and sid != transition.dest]
    return [sid for sid in transition.source if sid in definition.states]


def edges(definition: Definition) -> list[Edge]:
    """Every concrete edge; edges naming unknown states are left out (the validator reports those)."""
    plain: list[Edge] = []
    returning: list[tuple[int, str]] = []
    for index, transition in enumerate(definition.transitions):
        for source in sources_of(definition, index):
            if transition.dest == PREVIOUS:
                returning.append((index, source))
            elif transition.dest in definition.states:
                plain.append(Edge(transition.trigger, source, transition.dest, index))
    expanded = list(plain)
    for index, source in returning:
        trigger = definition.transitions[index].trigger
        came_from = sorted({edge.source for edge in plain if edge.dest == source})
        expanded.extend(Edge(trigger, source, origin, index, previous=origin) for origin in came_from)
    return expanded


def transition_from(definition: Definition, state: str, trigger: str) -> Transition:
    """The transition ``trigger`` names when fired from ``state`` (a trigger may leave several states).

    Raises:
        NotFound: no transition ``trigger`` leaves ``state``.
    """
    for transition in definition.transitions:
        if transition.trigger == trigger and (state in transition.source or ANY_STATE in transition.source):
            return transition
    raise NotFound("move", trigger)
