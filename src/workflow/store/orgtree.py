"""The org unit tree: which units stand above each one (an institution, its faculties, their departments)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from workflow.store.people import ORG_UNIT

_PARENTS = select(ORG_UNIT.c.id, ORG_UNIT.c.parent_id)


@dataclass(frozen=True)
class OrgTree:
    """Each org unit's ancestors, itself included."""

    ancestors: Mapping[int, frozenset[int]] = field(default_factory=dict)

    def above(self, unit_id: int | None) -> frozenset[int]:
        """The unit and every unit above it (nothing for no unit)."""
        return self.ancestors.get(unit_id, frozenset()) if unit_id is not None else frozenset()

    def below(self, unit_ids: Iterable[int]) -> set[int]:
        """The given units and every unit under them."""
        wanted = set(unit_ids)
        return {unit for unit, above in self.ancestors.items() if above & wanted}


def read_tree(conn: Connection) -> OrgTree:
    """The tree as the org unit table holds it now."""
    parents = {row.id: row.parent_id for row in conn.execute(_PARENTS)}
    ancestors: dict[int, frozenset[int]] = {}
    for unit in parents:
        chain: list[int] = []
        node: int | None = unit
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        ancestors[unit] = frozenset(chain)
    return OrgTree(ancestors)
