"""Mermaid ``stateDiagram-v2`` text for a definition, gates named on their edges.

Written here rather than taken from ``transitions.extensions.GraphMachine(graph_engine="mermaid")``, whose
output names neither final states nor gates and highlights the machine's initial state, not a credential's.
"""

from __future__ import annotations

from workflow.definitions.graph import edges
from workflow.definitions.model import Definition


def _label(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ").replace(";", ",").replace("#", "no.")


def mermaid(definition: Definition, *, current: str | None = None) -> str:
    """The definition as a Mermaid state diagram; ``current`` (a state id) is highlighted."""
    lines = ["stateDiagram-v2"]
    for sid, state in definition.states.items():
        lines.append(f'    state "{_label(state.title)}" as {sid}')
    initial = next(sid for sid, state in definition.states.items() if state.initial)
    lines.append(f"    [*] --> {initial}")
    seen: set[tuple[str, str, str]] = set()
    for edge in edges(definition):
        transition = definition.transitions[edge.index]
        label = transition.trigger
        if transition.gate:
            label += f" [{_label(definition.gates[transition.gate].title)}]"
        key = (edge.source, edge.dest, label)
        if key not in seen:
            seen.add(key)
            lines.append(f"    {edge.source} --> {edge.dest}: {label}")
    for sid, state in definition.states.items():
        if state.final:
            lines.append(f"    {sid} --> [*]")
    if current is not None:
        lines.append("    classDef current fill:#ffd54f,stroke:#5d4037,stroke-width:3px")
        lines.append(f"    class {current} current")
    return "\n".join(lines) + "\n"
