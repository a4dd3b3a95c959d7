"""Who is acting, and where they belong: role grants scoped to org units (and everything below) or to one
credential, including roles held for someone else through a delegation that is active today."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, false, func, or_, select

from workflow.clock import Clock, LocalDays
from workflow.errors import Forbidden, NotFound
from workflow.store.database import Database
from workflow.store.orgtree import OrgTree, read_tree
from workflow.store.people import ASSIGNMENT, DELEGATION, USER
from workflow.store.tables import CREDENTIAL


@dataclass(frozen=True)
class Grant:
    """A role the caller may act in, where, and on whose behalf (``principal`` is the caller unless delegated)."""

    role: str
    org_unit_id: int | None
    credential_id: int | None
    principal: str
    delegated: bool = False


@dataclass(frozen=True)
class Caller:
    """The person (or the system itself) performing an action, with every role they may act in."""

    username: str
    display_name: str
    user_id: int | None = None
    is_admin: bool = False
    is_system: bool = False
    grants: tuple[Grant, ...] = ()
    tree: OrgTree = field(default_factory=OrgTree)

    @classmethod
    def system(cls, name: str = "system") -> Caller:
        """The service acting on its own (timers, demo data, trusted scripts): never refused for its role."""
        return cls(username=name, display_name=name, is_system=True)

    def grants_on(self, credential_id: int | None, org_unit_id: int | None) -> list[Grant]:
        """The grants that reach a credential (by its id and org unit)."""
        above = self.tree.ancestors.get(org_unit_id, frozenset()) if org_unit_id is not None else frozenset()
        return [g for g in self.grants
                if (g.credential_id is not None and g.credential_id == credential_id)
                or (g.org_unit_id is not None and g.org_unit_id in above)]

    def roles_on(self, credential_id: int | None, org_unit_id: int | None) -> set[str]:
        """The roles the caller holds themselves on a credential (delegated ones left out)."""
        return {g.role for g in self.grants_on(credential_id, org_unit_id) if not g.delegated}

    def can_view(self, credential_id: int | None, org_unit_id: int | None) -> bool:
        """Whether the credential is the caller's business at all."""
        return self.is_admin or self.is_system or bool(self.grants_on(credential_id, org_unit_id))

    def visible_units(self) -> set[int]:
        """Org units whose credentials the caller may see (all of them for admins and the system)."""
        return self.tree.below(g.org_unit_id for g in self.grants if g.org_unit_id is not None)

    def visible_credentials(self) -> set[int]:
        """Credentials the caller may see through a role on that credential alone."""
        return {g.credential_id for g in self.grants if g.credential_id is not None}

    @property
    def sees_everything(self) -> bool:
        return self.is_admin or self.is_system


def require_admin(caller: Caller, what: str) -> None:
    """Refuse anyone but an administrator (or the system itself): ``Forbidden("only an administrator may
    <what>")``."""
    if not (caller.is_admin or caller.is_system):
        raise Forbidden(f"only an administrator may {what}")


class AccessService:
    """Builds callers from the database: their grants, delegations in force today, and the org tree."""

    TREE_SECONDS = 10.0  # how stale another process's change to the org units may be seen here

    def __init__(self, database: Database, clock: Clock, days: LocalDays) -> None:
        self._db = database
        self._clock = clock
        self.days = days
        self._tree: tuple[float, OrgTree] | None = None

    def forget_tree(self) -> None:
        """Read the org units afresh next time (after this process changed them)."""
        self._tree = None

    def tree(self, conn: Connection | None = None) -> OrgTree:
        """The org unit tree, read at most every ``TREE_SECONDS`` (org units change rarely; every action needs
        the tree)."""
        cached = self._tree
        if cached is not None and time.monotonic() - cached[0] < self.TREE_SECONDS:
            return cached[1]
        if conn is None:
            with self._db.begin_read() as own:
                return self.tree(own)
        tree = read_tree(conn)
        self._tree = (time.monotonic(), tree)
        return tree

    def caller(self, user_id: int, *, today: date | None = None) -> Caller:
        """The caller for a user, with their own grants and those delegated to them for ``today`` (by default the
        institution's local day now: a delegation is in force from local midnight of its first day to local midnight
        after its last)."""
        today = today or self.days.day_of(self._clock.now())
        with self._db.begin_read() as conn:
            user = conn.execute(select(USER).where(USER.c.id == user_id)).first()
            if user is None or not user.active:
                raise NotFound("user", user_id)
            grants = [Grant(r.role, r.org_unit_id, r.credential_id, user.username)
                      for r in conn.execute(select(ASSIGNMENT).where(ASSIGNMENT.c.user_id == user_id))]
            delegations = conn.execute(
                select(DELEGATION.c.from_user_id, DELEGATION.c.role, USER.c.username)
                .join(USER, USER.c.id == DELEGATION.c.from_user_id)
                .where(DELEGATION.c.to_user_id == user_id, DELEGATION.c.revoked_at.is_(None),
                       DELEGATION.c.starts_on <= today, DELEGATION.c.ends_on >= today, USER.c.active.is_(True))
            ).all()
            for delegation in delegations:
                query = select(ASSIGNMENT).where(ASSIGNMENT.c.user_id == delegation.from_user_id)
                if delegation.role is not None:
                    query = query.where(ASSIGNMENT.c.role == delegation.role)
                grants.extend(Grant(r.role, r.org_unit_id, r.credential_id, delegation.username, delegated=True)
                              for r in conn.execute(query))
            return Caller(username=user.username, display_name=user.display_name, user_id=user.id,
                          is_admin=user.is_admin, grants=tuple(grants), tree=self.tree(conn))

    def caller_by_name(self, username: str) -> Caller:
        """The caller for a username (for the command line)."""
        with self._db.begin_read() as conn:
            user_id = conn.execute(select(USER.c.id).where(USER.c.username == username)).scalar()
        if user_id is None:
            raise NotFound("user", username)
        return self.caller(user_id)

    def holders(self, conn: Connection, roles: Iterable[str], credential_id: int, org_unit_id: int | None,
                tree: OrgTree) -> dict[str, int]:
        """How many active people hold each of ``roles`` on a credential themselves (for ``all`` approval
        policies), in one query."""
        wanted = sorted(set(roles))
        if not wanted:
            return {}
        above = list(tree.ancestors.get(org_unit_id, frozenset())) if org_unit_id is not None else []
        query = (select(ASSIGNMENT.c.role, func.count(ASSIGNMENT.c.user_id.distinct()))
                 .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
                 .where(ASSIGNMENT.c.role.in_(wanted), USER.c.active.is_(True),
                        or_(ASSIGNMENT.c.credential_id == credential_id, ASSIGNMENT.c.org_unit_id.in_(above)))
                 .group_by(ASSIGNMENT.c.role))
        counted = {role: int(n) for role, n in conn.execute(query)}
        return {role: counted.get(role, 0) for role in wanted}

    def holders_by_role(self, credential_id: int, org_unit_id: int | None,
                        roles: Iterable[str]) -> dict[str, list[str]]:
        """Who holds each role on a credential (display names, active people), in one query — for pages."""
        wanted = sorted(set(roles))
        if not wanted:
            return {}
        with self._db.begin_read() as conn:
            tree = self.tree(conn)
            above = list(tree.ancestors.get(org_unit_id, frozenset())) if org_unit_id is not None else []
            rows = conn.execute(
                select(ASSIGNMENT.c.role, USER.c.display_name).distinct()
                .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
                .where(ASSIGNMENT.c.role.in_(wanted), USER.c.active.is_(True),
                       or_(ASSIGNMENT.c.credential_id == credential_id, ASSIGNMENT.c.org_unit_id.in_(above)))
                .order_by(ASSIGNMENT.c.role, USER.c.display_name)).all()
        found: dict[str, list[str]] = {role: [] for role in wanted}
        for row in rows:
            found[row.role].append(row.display_name)
        return found

    def names_of(self, usernames: Iterable[str]) -> dict[str, str]:
        """The display names of people by username (those not found, such as timers, are left out)."""
        wanted = sorted(set(usernames))
        if not wanted:
            return {}
        with self._db.begin_read() as conn:
            rows = conn.execute(select(USER.c.username, USER.c.display_name).where(USER.c.username.in_(wanted)))
            return {row.username: row.display_name for row in rows if row.display_name}


def visible_clause(by: Caller) -> Any:
    """A SQL condition on the credential table: the credentials ``by`` may see."""
    if by.sees_everything:
        return CREDENTIAL.c.id.isnot(None)
    units, credentials = by.visible_units(), by.visible_credentials()
    if not units and not credentials:
        return false()
    # No OR with an empty list: it would keep the planner from the (state, org unit) index.
    if not credentials:
        return CREDENTIAL.c.org_unit_id.in_(sorted(units))
    if not units:
        return CREDENTIAL.c.id.in_(sorted(credentials))
    return or_(CREDENTIAL.c.org_unit_id.in_(sorted(units)), CREDENTIAL.c.id.in_(sorted(credentials)))

