"""The lifecycle as a Graphviz graph (DOT text): states as boxes, moves as labelled arrows, gates marked.

Moves from any phase (``*``: hold, withdraw) leave one box, "Any phase", instead of every state; a move back
to the state a credential came from (``@previous``: resume) ends at one "Previous phase" box. Every node and
edge has a stable ``id`` (see :func:`state_id`, :func:`move_id`) and classes, so that a page can mark the
current state and the path a credential took.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass

import graphviz

from workflow.definitions.model import ANY_STATE, PREVIOUS, Definition

ANY = "any"  # the node moves from any phase leave
BACK = "previous"  # the node a move back to the previous phase ends at
START = "start"  # the dot before the initial state
WRAP_STATE = 18  # characters per line in a state's box
WRAP_MOVE = 15  # characters per line on an arrow
FONT = "Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class Arrow:
    """One arrow of the drawing: a transition from one box to another."""

    trigger: str
    source: str  # a state id, ANY or START
    dest: str  # a state id or BACK

    @property
    def id(self) -> str:
        return move_id(self.trigger, self.source, self.dest)


def state_id(prefix: str, state: str) -> str:
    """The SVG id of a state's box (``prefix`` keeps ids unique when a page shows several drawings)."""
    return f"{prefix}-state-{state}"


def move_id(trigger: str, source: str, dest: str) -> str:
    """The SVG id (without prefix) of the arrow ``source → dest`` by ``trigger``."""
    return f"move-{trigger}-{source}-{dest}"


def arrows(definition: Definition) -> list[Arrow]:
    """The arrows drawn: one per named source of each transition; one from "Any phase" for ``*``."""
    found: list[Arrow] = []
    for transition in definition.transitions:
        dest = BACK if transition.dest == PREVIOUS else transition.dest
        if dest != BACK and dest not in definition.states:
            continue
        if ANY_STATE in transition.source:
            found.append(Arrow(transition.trigger, ANY, dest))
        found.extend(Arrow(transition.trigger, source, dest) for source in transition.source
                     if source in definition.states)
    return found


def arrow_of(definition: Definition, source: str, dest: str, trigger: str) -> Arrow | None:
    """The arrow that shows a move a credential made (from its history), if the drawing has one."""
    transition = next((t for t in definition.transitions if t.trigger == trigger), None)
    if transition is None:
        return None
    drawn_dest = BACK if transition.dest == PREVIOUS else dest
    if source in transition.source:
        return Arrow(trigger, source, drawn_dest)
    if ANY_STATE in transition.source:
        return Arrow(trigger, ANY, drawn_dest)
    return None


def _lines(text: str, width: int) -> str:
    """HTML-like label text: escaped, wrapped into lines joined by ``<BR/>``."""
    wrapped = textwrap.wrap(" ".join(text.split()), width) or [""]
    return "<BR/>".join(html.escape(line, quote=True) for line in wrapped)


def dot_source(definition: Definition, prefix: str) -> str:
    """The DOT text of ``definition``'s lifecycle, top to bottom; ids start with ``prefix``."""
    graph = graphviz.Digraph(name=prefix, graph_attr={
        "rankdir": "TB", "id": prefix, "class": "lifecycle-graph", "nodesep": "0.3", "ranksep": "0.35",
        "bgcolor": "transparent", "fontname": FONT, "pad": "0.1"})
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color="#5b6b7c", fontname=FONT,
               fontsize="14", margin="0.15,0.06")
    graph.attr("edge", fontname=FONT, fontsize="12", color="#5b6b7c", arrowsize="0.8")
    drawn = arrows(definition)
    wildcard = {a.dest for a in drawn if a.source == ANY}
    reached = {a.dest for a in drawn if a.source != ANY}
    initial = next((sid for sid, state in definition.states.items() if state.initial), None)
    aside = [sid for sid in definition.states if sid in wildcard and sid not in reached and sid != initial]

    def box(target: graphviz.Digraph, sid: str) -> None:
        state = definition.states[sid]
        classes = ["state"] + (["final"] if state.final else []) + (["initial"] if sid == initial else [])
        target.node(sid, f"<{_lines(state.title, WRAP_STATE)}>", id=state_id(prefix, sid),
                    **{"class": " ".join(classes)}, **({"peripheries": "2"} if state.final else {}))

    if initial is not None:
        graph.node(START, "", shape="circle", style="filled", fillcolor="#1b1b1b", width="0.18",
                   id=f"{prefix}-{START}", **{"class": "start"})
        graph.edge(START, initial, id=f"{prefix}-{START}-{initial}", **{"class": "start"})
    for sid in definition.states:
        if sid not in aside:
            box(graph, sid)
    if wildcard or any(a.dest == BACK for a in drawn):
        with graph.subgraph(name=f"cluster_{ANY}") as cluster:
            cluster.attr(label="<<I>From any phase</I>>", style="dashed,rounded", color="#8a96a3",
                         fontsize="12", id=f"{prefix}-{ANY}-cluster", **{"class": "any-phase"})
            if wildcard:
                cluster.node(ANY, "<Any phase>", style="dashed,rounded", id=state_id(prefix, ANY),
                             **{"class": "pseudo"})
            for sid in aside:
                box(cluster, sid)
            if any(a.dest == BACK for a in drawn):
                cluster.node(BACK, "<Previous phase>", style="dashed,rounded", id=state_id(prefix, BACK),
                             **{"class": "pseudo"})
        # below the main path rather than beside it: the drawing stays narrow enough to read on a phone
        leaving = {a.source for a in drawn}
        for sid in definition.states:
            if sid not in aside and sid not in leaving and wildcard:
                graph.edge(sid, ANY, style="invis")
    for arrow in drawn:
        transition = next(t for t in definition.transitions if t.trigger == arrow.trigger)
        label = _lines(transition.title or transition.trigger.replace("_", " "), WRAP_MOVE)
        attrs = {"id": f"{prefix}-{arrow.id}", "class": "move"}
        if transition.gate and transition.gate in definition.gates:
            gate = definition.gates[transition.gate].title
            marked = f"<B>◆ {_lines(gate, WRAP_MOVE)}</B>"
            same = " ".join(gate.split()).casefold() == " ".join((transition.title or "").split()).casefold()
            label = marked if same else f"{label}<BR/>{marked}"
            attrs.update({"class": "move gate", "penwidth": "2.5", "color": "#1f4e79", "arrowhead": "normal"})
        if arrow.source == ANY or arrow.dest == BACK:
            attrs.update({"class": attrs["class"] + " any", "style": "dashed"})
        graph.edge(arrow.source, arrow.dest, label=f"<{label}>", **attrs)
    source: str = graph.source
    return source
