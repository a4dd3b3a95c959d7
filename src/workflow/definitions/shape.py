"""The graph of a definition with ``*`` sources kept whole, for checks that take time linear in its size.

Spelling ``*`` out (:func:`workflow.definitions.graph.edges`) gives every non-final state an edge to each wildcard
destination: ``states × wildcards`` edges, a million for a thousand states and a thousand wildcards. Here a wildcard
stays one entry, and the walks below treat "every non-final state but one" as a single step.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator

from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition


class _AllBut:
    """Members of ``items`` handed out once each, in bulk: "all but ``s``" the first time, then the one left out.

    Asked for "all but s" again and again, it hands each member out once in all, however often it is asked.
    """

    def __init__(self, items: Iterable[str]) -> None:
        self.items = list(items)
        self.members = set(self.items)
        self.first: str | None = None
        self.done = False

    def all_but(self, state: str) -> list[str]:
        if self.done or not self.items:
            return []
        if self.first is None:
            self.first = state
            return [item for item in self.items if item != state]
        if state == self.first:
            return []
        self.done = True
        return [self.first] if self.first in self.members else []


class Shape:
    """Moves of a definition: explicit ones as edges, wildcard ones as (trigger, destination) pairs.

    Same meaning as :func:`workflow.definitions.graph.edges`: ``*`` leaves every non-final state but the
    destination, and ``@previous`` from ``s`` goes back to any state with a (plain) move into ``s``.
    """

    def __init__(self, definition: Definition) -> None:
        states = definition.states
        self.states = states
        self.nonfinal = [sid for sid, state in states.items() if not state.final]
        self.out: dict[str, set[str]] = defaultdict(set)  # explicit plain moves
        self.into: dict[str, set[str]] = defaultdict(set)
        self.wild_dests: list[str] = []  # destinations of plain wildcard moves (with repeats removed)
        self.returning: set[str] = set()  # states with an @previous move out (explicit sources)
        self.wild_returning = False  # an @previous move from '*'
        self.triggers_from: dict[str, set[str]] = defaultdict(set)  # explicit plain sources: state → triggers
        self.returning_triggers: dict[str, set[str]] = defaultdict(set)  # explicit @previous sources
        self.wild_triggers: dict[str, list[str]] = defaultdict(list)  # trigger → its wildcard destinations
        seen_dests: set[str] = set()
        for transition in definition.transitions:
            wildcard = ANY_STATE in transition.source
            if wildcard:
                if transition.dest == PREVIOUS:
                    self.wild_returning = True
                elif transition.dest in states:
                    if transition.dest not in seen_dests:
                        seen_dests.add(transition.dest)
                        self.wild_dests.append(transition.dest)
                else:
                    continue
                self.wild_triggers[transition.trigger].append(transition.dest)
                continue
            for source in transition.source:
                if source not in states:
                    continue
                if transition.dest == PREVIOUS:
                    self.returning.add(source)
                    self.returning_triggers[source].add(transition.trigger)
                elif transition.dest in states:
                    self.out[source].add(transition.dest)
                    self.into[transition.dest].add(source)
                    self.triggers_from[source].add(transition.trigger)
        self._wild_dest_set = seen_dests
        self._nonfinal_set = set(self.nonfinal)

    def is_returning(self, state: str) -> bool:
        """Whether an ``@previous`` move leaves ``state``."""
        return state in self.returning or (self.wild_returning and state in self._nonfinal_set)

    def has_way_in(self, state: str) -> bool:
        """Whether some plain move leads into ``state`` (so that ``@previous`` from it has somewhere to go)."""
        if self.into[state]:
            return True
        return state in self._wild_dest_set and any(s != state for s in self.nonfinal[:2])

    def has_way_out(self, state: str) -> bool:
        """Whether any move leaves ``state``."""
        if self.out[state]:
            return True
        if state in self._nonfinal_set and any(d != state for d in self.wild_dests[:2]):
            return True
        return self.is_returning(state) and self.has_way_in(state)

    def has_trigger(self, state: str, trigger: str) -> bool:
        """Whether ``trigger`` leaves ``state``."""
        if trigger in self.triggers_from[state]:
            return True
        if trigger in self.returning_triggers[state] and self.has_way_in(state):
            return True
        if state not in self._nonfinal_set:
            return False
        for dest in self.wild_triggers.get(trigger, ()):
            if dest == PREVIOUS and self.has_way_in(state):
                return True
            if dest != PREVIOUS and dest != state:
                return True
        return False

    def reachable(self, start: str) -> set[str]:
        """Every state some sequence of moves leads to from ``start`` (``start`` included)."""
        wild = _AllBut(self.wild_dests)
        back = _AllBut(self.nonfinal)  # @previous from a wildcard destination: back to any non-final state

        def successors(state: str) -> Iterator[str]:
            yield from self.out[state]
            if state in self._nonfinal_set:
                yield from wild.all_but(state)
            if self.is_returning(state):
                yield from self.into[state]
                if state in self._wild_dest_set:
                    yield from back.all_but(state)

        return _closure([start], successors)

    def can_reach(self, targets: Iterable[str]) -> set[str]:
        """Every state from which some sequence of moves leads into ``targets`` (``targets`` included)."""
        into_wild = _AllBut(self.nonfinal)  # a wildcard destination is reached from any non-final state
        returning_wild = _AllBut([s for s in self.wild_dests if self.is_returning(s)])
        returning_into: dict[str, set[str]] = defaultdict(set)  # origin → returning states it has a move into
        for state in self.returning | (self._nonfinal_set if self.wild_returning else set()):
            for origin in self.into[state]:
                returning_into[origin].add(state)

        def predecessors(state: str) -> Iterator[str]:
            yield from self.into[state]
            if state in self._wild_dest_set:
                yield from into_wild.all_but(state)
            yield from returning_into[state]
            if state in self._nonfinal_set:
                yield from returning_wild.all_but(state)

        return _closure(targets, predecessors)


def _closure(start: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
