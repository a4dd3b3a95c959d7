"""The linear-time graph checks (``shape.py``, wildcards kept whole) agree with the spelled-out edges
(``graph.edges``) on hundreds of random definitions with wildcards, returns to the previous state and final states."""

from __future__ import annotations

import random
from collections import defaultdict, deque

import pytest

from workflow.definitions.graph import edges
from workflow.definitions.model import Definition
from workflow.definitions.shape import Shape


def random_definition(rng: random.Random) -> Definition:
    count = rng.randint(2, 9)
    states = {f"s{i}": {"title": f"S{i}", "initial": i == 0, "final": i > 0 and rng.random() < 0.25}
              for i in range(count)}
    names = list(states)
    transitions = []
    for k in range(rng.randint(1, 12)):
        source: str | list[str] = "*" if rng.random() < 0.2 else rng.sample(names, rng.randint(1, 2))
        dest = "@previous" if rng.random() < 0.15 else rng.choice(names)
        transitions.append({"trigger": f"t{k % 5}", "source": source, "dest": dest})
    return Definition.model_validate({"name": "r", "title": "R", "roles": {}, "states": states,
                                      "transitions": transitions})


def closure(start: list[str], links: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in links[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


@pytest.mark.parametrize("seed", range(400))
def test_shape_agrees_with_the_spelled_out_edges(seed: int) -> None:
    definition = random_definition(random.Random(seed))
    spelled = edges(definition)
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)
    triggers: dict[str, set[str]] = defaultdict(set)
    for edge in spelled:
        forward[edge.source].add(edge.dest)
        backward[edge.dest].add(edge.source)
        triggers[edge.source].add(edge.trigger)
    shape = Shape(definition)
    finals = [sid for sid, s in definition.states.items() if s.final]
    assert shape.reachable("s0") == closure(["s0"], forward)
    assert shape.can_reach(finals) == closure(finals, backward)
    for sid in definition.states:
        assert shape.has_way_out(sid) == bool(forward[sid]), sid
        for trigger in {t.trigger for t in definition.transitions}:
            assert shape.has_trigger(sid, trigger) == (trigger in triggers[sid]), (sid, trigger)
