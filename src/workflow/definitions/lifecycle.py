"""The lifecycle as people draw it: the main path from the initial state, and the states any phase may go to."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition


@dataclass(frozen=True)
class Step:
    """A state in the drawing, with the moves that leave it."""

    state: str
    title: str
    phase: str
    final: bool
    moves: tuple[tuple[str, str, str], ...]  # (trigger, title, destination title)


@dataclass(frozen=True)
class Lifecycle:
    """``path``: states reached from the initial one by named moves, in order; ``aside``: the rest (hold,
    withdrawal — the states reached from any state)."""

    path: tuple[Step, ...]
    aside: tuple[Step, ...]


def lifecycle(definition: Definition) -> Lifecycle:
    """Lay the states out: breadth-first from the initial state along transitions with named sources."""
    states = definition.states
    initial = next((sid for sid, state in states.items() if state.initial), next(iter(states)))
    named = [t for t in definition.transitions if ANY_STATE not in t.source and t.dest in states]
    order = [initial]
    for sid in order:  # grows while it is walked: a breadth-first walk
        for transition in named:
            if sid in transition.source and transition.dest not in order:
                order.append(transition.dest)
    aside = [sid for sid in states if sid not in order]

    def step(sid: str) -> Step:
        moves = []
        for transition in definition.transitions:
            if sid in transition.source or (ANY_STATE in transition.source and not states[sid].final
                                             and transition.dest != sid):
                dest = "the state it came from" if transition.dest == PREVIOUS else (
                    states[transition.dest].title if transition.dest in states else transition.dest)
                moves.append((transition.trigger, transition.title or transition.trigger, dest))
        state = states[sid]
        return Step(sid, state.title, state.phase, state.final, tuple(moves))

    return Lifecycle(tuple(step(s) for s in order), tuple(step(s) for s in aside))
