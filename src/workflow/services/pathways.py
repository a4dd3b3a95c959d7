"""Pathways between credentials: what a credential stacks into, requires or is equivalent to (fields of type
``credentials`` in its data that name a ``pathway``), checked when the data changes — every credential named
exists, none names itself, and neither stacking nor requirements go round in a circle — and read back as the
dependants a sunset must acknowledge and as the pathway graph."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from workflow.definitions.model import Definition
from workflow.errors import InvalidInput
from workflow.services.access import Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.store.database import Database
from workflow.store.tables import CREDENTIAL

ACYCLIC = ("stacks_into", "requires")  # a circle in these makes no sense: A before B before A
BLOCKING = ("stacks_into", "requires")  # ending a credential these point at affects the credential pointing
WORDS = {"stacks_into": "stacks into", "requires": "requires", "equivalent_to": "is equivalent to"}
VERB = {"stacks_into": "stack into", "requires": "require"}
WORDS_BACK = {"stacks_into": "stacks into it", "requires": "requires it", "equivalent_to": "is equivalent to it"}


@dataclass(frozen=True)
class Link:
    """One arrow of the pathway graph: ``source`` relates to ``target`` as ``relation`` (a pathway kind, or
    ``names`` for a credential of another definition naming it, such as a learner's enrolment)."""

    source: int
    target: int
    relation: str
    field: str


@dataclass(frozen=True)
class Node:
    """A credential of the pathway graph."""

    id: int
    title: str
    definition: str
    state: str
    state_title: str
    final: bool
    org_unit_id: int | None = None


def credential_fields(definition: Definition) -> dict[str, str | None]:
    """The fields of type ``credentials``, each with its pathway kind (None for a plain reference)."""
    return {name: f.pathway for name, f in definition.fields.items() if f.type == "credentials"}


def pathway_field(definition: Definition, relation: str) -> str | None:
    """The field holding ``relation`` in ``definition``, if it has one."""
    return next((name for name, f in definition.fields.items() if f.pathway == relation), None)


class Pathways:
    """Checks and reads the links between credentials (each call runs on the connection it is given)."""

    def __init__(self, definitions: DefinitionRegistry) -> None:
        self._definitions = definitions

    def check(self, conn: Connection, definition: Definition, credential_id: int | None,
              changes: Mapping[str, Any], *, visible: Any = None) -> None:
        """Refuse changes whose credential fields name a credential that does not exist (or that ``visible``,
        a predicate on a credential row, hides), the credential itself, or close a circle of stacking or
        requirements.

        Raises:
            InvalidInput: naming the field, and for a circle every credential on it, in order.
        """
        for name, relation in credential_fields(definition).items():
            targets = changes.get(name)
            if not targets:
                continue
            label = definition.fields[name].label
            if credential_id is not None and credential_id in targets:
                raise InvalidInput(name, "a credential cannot name itself", label=label)
            found = {r.id: r for r in conn.execute(
                select(CREDENTIAL.c.id, CREDENTIAL.c.title, CREDENTIAL.c.org_unit_id)
                .where(CREDENTIAL.c.id.in_(list(targets))))}
            unknown = [t for t in targets if t not in found or (visible is not None and not visible(found[t]))]
            if unknown:
                raise InvalidInput(name, f"there is no credential {', '.join(f'#{t}' for t in unknown)}",
                                   label=label)
            if relation in ACYCLIC and credential_id is not None:
                circle = self._circle(conn, relation, credential_id, targets)
                if circle:
                    titles = self._titles(conn, circle)
                    said = f" {WORDS[relation]} ".join(f"“{titles[c]}” (#{c})" for c in circle)
                    raise InvalidInput(name, f"this would go round in a circle: {said}; "
                                             f"a credential cannot {VERB[relation]} itself "
                                             "through others", label=label)

    def _circle(self, conn: Connection, relation: str, start: int, targets: Iterable[int]) -> list[int]:
        """The shortest way from ``start`` through ``targets`` and the links of ``relation`` back to ``start``
        (empty if there is none)."""
        came_from: dict[int, int] = {t: start for t in targets}
        frontier = list(came_from)
        while frontier:
            following: list[int] = []
            for row in conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.definition_name,
                                           CREDENTIAL.c.definition_version, CREDENTIAL.c.data)
                                    .where(CREDENTIAL.c.id.in_(frontier))):
                field = pathway_field(self._definitions.engine(row.definition_name,
                                                               row.definition_version).definition, relation)
                for target in (row.data or {}).get(field, []) if field else []:
                    if target == start:
                        path = [row.id]
                        while path[-1] != start:
                            path.append(came_from[path[-1]])
                        return [*reversed(path), start]
                    if target not in came_from:
                        came_from[target] = row.id
                        following.append(target)
            frontier = following
        return []

    def links(self, conn: Connection, *, among: Collection[int] | None = None) -> tuple[list[Node], list[Link]]:
        """Every credential that names another or is named (limited to ``among`` when given), and the links."""
        definitions = {n: self._definitions.engine(n).definition for n in self._definitions.names()}
        referring = [n for n, d in definitions.items() if credential_fields(d)]
        nodes: dict[int, Node] = {}
        links: list[Link] = []
        query = select(CREDENTIAL.c.id, CREDENTIAL.c.title, CREDENTIAL.c.definition_name,
                       CREDENTIAL.c.definition_version, CREDENTIAL.c.state, CREDENTIAL.c.data,
                       CREDENTIAL.c.org_unit_id)
        for row in conn.execute(query.where(CREDENTIAL.c.definition_name.in_(referring))):
            definition = self._definitions.engine(row.definition_name, row.definition_version).definition
            for name, relation in credential_fields(definition).items():
                for target in (row.data or {}).get(name) or []:
                    links.append(Link(row.id, int(target), relation or "names", name))
        if among is not None:
            links = [link for link in links if link.source in among and link.target in among]
        wanted = {link.source for link in links} | {link.target for link in links}
        if wanted:
            for row in conn.execute(query.where(CREDENTIAL.c.id.in_(wanted))):
                definition = self._definitions.engine(row.definition_name, row.definition_version).definition
                state = definition.states.get(row.state)
                nodes[row.id] = Node(row.id, row.title, row.definition_name, row.state,
                                     state.title if state else row.state, bool(state and state.final),
                                     row.org_unit_id)
        links = [link for link in links if link.source in nodes and link.target in nodes]
        return sorted(nodes.values(), key=lambda n: n.id), links

    def dependants(self, conn: Connection, credential_id: int, definition_name: str) -> list[dict[str, Any]]:
        """Who is affected when ``credential_id`` stops being offered: credentials still open that stack into it
        or require it, and credentials of other definitions still open that name it (learners enrolled in it,
        where an enrolment workflow names its credential). Each with ``id``, ``title``, ``relation`` in words,
        ``state`` (its state's title) and ``definition``."""
        nodes, links = self.links(conn)
        by_id = {n.id: n for n in nodes}
        found: list[dict[str, Any]] = []
        for link in links:
            if link.target != credential_id or link.source == credential_id:
                continue
            source = by_id[link.source]
            if source.final:
                continue
            if link.relation in BLOCKING:
                relation = WORDS_BACK[link.relation]
            elif link.relation == "names" and source.definition != definition_name:
                definition = self._definitions.engine(source.definition).definition
                relation = f"names it ({definition.title}, {source.state_title.lower()})"
            else:
                continue
            found.append({"id": source.id, "title": source.title, "relation": relation,
                          "state": source.state_title, "definition": source.definition})
        return sorted(found, key=lambda d: d["id"])

    @staticmethod
    def _titles(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
        return {r.id: r.title for r in conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.title)
                                                    .where(CREDENTIAL.c.id.in_(list(set(ids)))))}


class PathwayViews:
    """Reads only: the pathway graph of the credentials a person may see."""

    def __init__(self, database: Database, definitions: DefinitionRegistry) -> None:
        self._db = database
        self._pathways = Pathways(definitions)

    def graph(self, *, by: Caller) -> tuple[list[Node], list[Link]]:
        """The credentials ``by`` may see that stack into, require or equal another they may see, and those links
        (references of other kinds, such as enrolments, are not pathways)."""
        with self._db.begin_read() as conn:
            nodes, links = self._pathways.links(conn)
        seen = {n.id for n in nodes if by.can_view(n.id, n.org_unit_id)}
        kept = [link for link in links if link.relation in WORDS and link.source in seen and link.target in seen]
        linked = {link.source for link in kept} | {link.target for link in kept}
        return [n for n in nodes if n.id in linked], kept
