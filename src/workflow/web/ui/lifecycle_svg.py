"""The lifecycle drawing as a page shows it: the whole graph of a definition, or one credential's with where it is
now and the way it came marked by classes (styled in ``site.css``) and said in words."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from markupsafe import Markup

from workflow.definitions.drawing import START, arrow_of, state_id
from workflow.definitions.model import Definition
from workflow.web.ui.dot_layout import Layouts, prefix, tag

Move = tuple[str, str, str]  # (from_state, to_state, trigger), as the history records a move


@dataclass(frozen=True)
class Drawing:
    """An inline ``<svg>`` and, for a credential, the titles of the states it went through, oldest first."""

    svg: Markup
    path: tuple[str, ...] = ()


def layouts_of(request: Request) -> Layouts:
    """The app's laid-out lifecycles."""
    layouts: Layouts = request.app.state.layouts
    return layouts


def whole(layouts: Layouts, definition: Definition, version: int) -> Drawing | None:
    """Every state and move of a definition version, nothing marked (``None`` without Graphviz)."""
    root = layouts.svg(definition, version)
    if root is None:
        return None
    finals = [s.title for s in definition.states.values() if s.final]
    initial = next((s.title for s in definition.states.values() if s.initial), "")
    label = (f"Lifecycle of {definition.title}: {len(definition.states)} states, from {initial} to "
             f"{' or '.join(finals) or 'no final state'}; the transitions are listed in the table below.")
    return Drawing(_markup(copy.deepcopy(root), prefix(definition.name, version), label))


def for_credential(layouts: Layouts, definition: Definition, version: int, current: str,
                   moves: Sequence[Move]) -> Drawing | None:
    """The lifecycle with the ``current`` state and the ``moves`` made so far marked (``None`` without Graphviz)."""
    shared = layouts.svg(definition, version)
    if shared is None:
        return None
    root = copy.deepcopy(shared)
    pid = prefix(definition.name, version)
    groups = {g.get("id"): g for g in root.iter(tag("g"))}
    visited = [moves[0][0] if moves else current] + [to_state for _, to_state, _ in moves]
    for sid in visited:
        _add_class(groups.get(state_id(pid, sid)), "visited")
    _add_class(groups.get(state_id(pid, current)), "current")
    initial = next((sid for sid, s in definition.states.items() if s.initial), None)
    if visited and visited[0] == initial:
        _add_class(groups.get(f"{pid}-{START}-{initial}"), "taken")
    for source, dest, trigger in moves:
        arrow = arrow_of(definition, source, dest, trigger)
        if arrow is not None:
            _add_class(groups.get(f"{pid}-{arrow.id}"), "taken")
    titles = tuple(definition.states[s].title if s in definition.states else s for s in visited)
    now = definition.states[current].title if current in definition.states else current
    label = f"Lifecycle of {definition.title}, now at {now}. The way so far: {', '.join(titles)}."
    return Drawing(_markup(root, pid, label), titles)


def _add_class(element: ET.Element | None, name: str) -> None:
    if element is not None:
        classes = element.get("class", "").split()
        if name not in classes:
            element.set("class", " ".join([*classes, name]))


def _markup(root: ET.Element, pid: str, label: str) -> Markup:
    """The ``<svg>`` as page markup: an image whose name is ``label`` (ElementTree escapes every text)."""
    title = ET.Element(tag("title"), {"id": f"{pid}-title"})
    title.text = label
    root.insert(0, title)
    root.set("role", "img")
    root.set("aria-labelledby", f"{pid}-title")
    return Markup(ET.tostring(root, encoding="unicode"))  # serialised by ElementTree: every text escaped
