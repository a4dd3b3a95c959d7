"""The pathway graph as a drawing: credentials as boxes, what stacks into or requires what as arrows, equivalence
as a dashed line, laid out by Graphviz like the lifecycle (:mod:`workflow.web.ui.dot_layout`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import graphviz
from markupsafe import Markup

from workflow.definitions.drawing import FONT, WRAP_STATE, _lines
from workflow.services.pathways import WORDS, Link, Node
from workflow.web.ui.dot_layout import Layouts, tag

GRAPH_ID = "pathways"


def dot_source(nodes: Sequence[Node], links: Sequence[Link]) -> str:
    """The DOT text: foundations at the top, what they lead to below."""
    graph = graphviz.Digraph(name=GRAPH_ID, graph_attr={
        "rankdir": "TB", "id": GRAPH_ID, "nodesep": "0.35", "ranksep": "0.5", "bgcolor": "transparent",
        "fontname": FONT, "pad": "0.1"})
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color="#5b6b7c", fontname=FONT,
               fontsize="14", margin="0.15,0.06")
    graph.attr("edge", fontname=FONT, fontsize="12", color="#5b6b7c", arrowsize="0.8")
    for node in nodes:
        label = (f"{_lines(node.title, WRAP_STATE)}<BR/>"
                 f"<FONT POINT-SIZE=\"11\">#{node.id} · {_lines(node.state_title, 30)}</FONT>")
        graph.node(str(node.id), f"<{label}>", id=f"{GRAPH_ID}-credential-{node.id}",
                   **{"class": "credential" + (" final" if node.final else "")},
                   **({"fillcolor": "#eeeeee", "fontcolor": "#4a4a4a"} if node.final else {}))
    for link in links:
        attrs = {"id": f"{GRAPH_ID}-{link.relation}-{link.source}-{link.target}", "class": f"link {link.relation}",
                 "label": f"<{WORDS[link.relation]}>"}
        if link.relation == "requires":  # the foundation first: drawn from what is required to what requires it
            graph.edge(str(link.target), str(link.source), dir="back", penwidth="2", color="#1f4e79", **attrs)
        elif link.relation == "equivalent_to":
            graph.edge(str(link.source), str(link.target), dir="none", style="dashed", constraint="false", **attrs)
        else:
            graph.edge(str(link.source), str(link.target), **attrs)
    source: str = graph.source
    return source


def drawing(layouts: Layouts, nodes: Sequence[Node], links: Sequence[Link]) -> Markup | None:
    """The laid-out graph as page markup (an image named in words; the table beside it says the same), or
    ``None`` without Graphviz or when there is nothing to draw."""
    if not links:
        return None
    root = layouts.lay_out(dot_source(nodes, links), "the pathway graph")
    if root is None:
        return None
    root.set("class", "lifecycle-graph pathway-graph")
    title = ET.Element(tag("title"), {"id": f"{GRAPH_ID}-title"})
    title.text = (f"Pathways between {len(nodes)} credentials: {len(links)} link{'s' if len(links) != 1 else ''}, "
                  "each listed in the table below.")
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-labelledby", f"{GRAPH_ID}-title")
    return Markup(ET.tostring(root, encoding="unicode"))  # serialised by ElementTree: every text escaped
