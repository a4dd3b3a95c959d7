"""The organisation and its people: org units, users, role assignments and delegations.

Who may change what: administrators manage org units, users and org-wide roles; the people who may edit a
credential add its design team (roles on that credential alone); a person delegates their own approvals.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from workflow.clock import Clock, LocalDays
from workflow.definitions.validate import did_you_mean
from workflow.engine.data import check_plain_text
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.services.access import Caller, require_admin
from workflow.services.accounts import end_access
from workflow.services.administrators import keep_an_administrator
from workflow.services.auth import hash_password
from workflow.services.orgfile import OrgFile
from workflow.store.database import Database
from workflow.store.people import ASSIGNMENT, DELEGATION, ORG_UNIT, USER

MAX_DELEGATION_DAYS = 366


@dataclass(frozen=True)
class LoadReport:
    """What an organisation load changed."""

    units_added: int
    units_updated: int
    users_added: int
    users_updated: int
    roles_added: int


class PeopleService:
    """Org units, users, role assignments and delegations."""

    def __init__(self, database: Database, clock: Clock, days: LocalDays, known_roles: Collection[str], *,
                 allow_file_passwords: bool = True, on_units_changed: Callable[[], None] = lambda: None) -> None:
        self._units_changed = on_units_changed
        self._db = database
        self._clock = clock
        self._days = days
        self._roles = set(known_roles)
        self._allow_file_passwords = allow_file_passwords

    @property
    def known_roles(self) -> set[str]:
        """Every role some definition names."""
        return set(self._roles)

    def learn_roles(self, roles: Iterable[str]) -> None:
        """Add the roles of newly published definitions to the known ones."""
        self._roles = self._roles | set(roles)

    def unit_keys(self) -> set[str]:
        """The keys of the org units that exist."""
        with self._db.begin_read() as conn:
            return set(conn.execute(select(ORG_UNIT.c.key)).scalars())

    # -- organisation file ----------------------------------------------------------------------------------

    def load(self, org: OrgFile, *, by: Caller) -> LoadReport:
        """Add or update the units, users and roles of an organisation file, all in one transaction; refused
        whole if it would leave no active administrator (a person listed without ``admin: true`` stops being one)."""
        require_admin(by, "do this")
        if not self._allow_file_passwords and any(u.password for u in org.users):
            raise InvalidInput("password", "passwords in organisation files are refused in production; "
                                           "use `workflow users set-password`")
        counts = dict.fromkeys(("units_added", "units_updated", "users_added", "users_updated", "roles_added"), 0)
        with self._db.begin() as conn, keep_an_administrator(conn):
            ids = {row.key: row.id for row in conn.execute(select(ORG_UNIT.c.key, ORG_UNIT.c.id))}
            for unit in _parents_first(org):
                values = {"name": unit.name, "kind": unit.kind, "email": unit.email,
                          "parent_id": ids[unit.parent] if unit.parent else None, "handles": list(unit.handles),
                          "digest_hour": unit.digest_hour, "timezone": unit.timezone}
                if unit.key in ids:
                    conn.execute(update(ORG_UNIT).where(ORG_UNIT.c.id == ids[unit.key]).values(**values))
                    counts["units_updated"] += 1
                else:
                    key = conn.execute(insert(ORG_UNIT), {"key": unit.key, **values}).inserted_primary_key
                    assert key is not None
                    ids[unit.key] = int(key[0])
                    counts["units_added"] += 1
            for user in org.users:
                values = {"display_name": user.name, "email": user.email, "is_admin": user.admin,
                          "digest_hour": user.digest_hour, "timezone": user.timezone}
                if user.password:
                    values["password_hash"] = hash_password(user.password, username=user.username)
                found = conn.execute(select(USER.c.id).where(USER.c.username == user.username)).scalar()
                if found is None:
                    key = conn.execute(insert(USER), {"username": user.username, "active": True,
                                                      "created_at": self._clock.now(), **values}).inserted_primary_key
                    assert key is not None
                    found = int(key[0])
                    counts["users_added"] += 1
                else:
                    conn.execute(update(USER).where(USER.c.id == found).values(**values))
                    counts["users_updated"] += 1
                for grant in user.roles:
                    counts["roles_added"] += self._add_assignment(conn, found, grant.role, ids[grant.unit], None)
        self._units_changed()
        return LoadReport(**counts)

    # -- users ----------------------------------------------------------------------------------------------

    def create_user(self, *, username: str, display_name: str, email: str = "", password: str | None = None,
                    admin: bool = False, by: Caller) -> int:
        """Add a person; returns their user id."""
        require_admin(by, "do this")
        username = username.strip()
        if not username or len(username) > 100 or any(c.isspace() for c in username):
            raise InvalidInput("username", "must be 1 to 100 characters without spaces")
        check_plain_text("username", username)
        check_plain_text("display_name", display_name)
        if len(display_name.strip()) > 200:
            raise InvalidInput("display_name", "is too long (at most 200 characters)")
        email = email.strip()
        check_plain_text("email", email)
        if email and (len(email) > 320 or email.count("@") != 1 or email.startswith("@") or email.endswith("@")
                      or any(c.isspace() for c in email)):
            raise InvalidInput("email", "is not an email address (such as name@college.example)")
        with self._db.begin() as conn:
            if conn.execute(select(USER.c.id).where(USER.c.username == username)).first() is not None:
                raise Conflict(f"user '{username}' exists already")
            key = conn.execute(insert(USER), {
                "username": username, "display_name": display_name.strip() or username, "email": email.strip(),
                "password_hash": hash_password(password, username=username) if password else None, "is_admin": admin,
                "active": True, "created_at": self._clock.now()}).inserted_primary_key
            assert key is not None
            return int(key[0])

    def set_password(self, *, username: str, password: str, by: Caller) -> None:
        """Set a user's password (the user themselves, or an administrator)."""
        if by.username != username:
            require_admin(by, "do this")
        hashed = hash_password(password, username=username)
        with self._db.begin() as conn:
            if conn.execute(update(USER).where(USER.c.username == username)
                            .values(password_hash=hashed)).rowcount != 1:
                raise NotFound("user", username)

    def set_active(self, *, user_id: int, active: bool, by: Caller) -> None:
        """Deactivate (or reactivate) a user: a deactivated user cannot sign in or use tokens. The last active
        administrator cannot be deactivated (see :func:`keep_an_administrator`)."""
        self.update_user(user_id=user_id, active=active, by=by)

    def set_admin(self, *, user_id: int, admin: bool, by: Caller) -> None:
        """Make a user an administrator, or no longer one; never the last active administrator."""
        self.update_user(user_id=user_id, admin=admin, by=by)

    def update_user(self, *, user_id: int, by: Caller, active: bool | None = None, admin: bool | None = None) -> None:
        """Change whether a user is active and whether they are an administrator, in one transaction.

        Raises:
            LastAdministrator: the change would leave no active administrator.
        """
        require_admin(by, "do this")
        values = {k: v for k, v in (("active", active), ("is_admin", admin)) if v is not None}
        with self._db.begin() as conn, keep_an_administrator(conn):
            if conn.execute(update(USER).where(USER.c.id == user_id).values(**values)).rowcount != 1:
                raise NotFound("user", user_id)
            if active is False:  # their open sessions and tokens end now, not when they next expire
                end_access(conn, user_id, self._clock.now())

    def users(self, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Users with their roles, by username."""
        with self._db.begin_read() as conn:
            rows = conn.execute(select(USER.c.id, USER.c.username, USER.c.display_name, USER.c.email,
                                       USER.c.is_admin, USER.c.active)
                                .order_by(USER.c.username).limit(limit).offset(offset)).all()
            ids = [row.id for row in rows]
            roles: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
            for grant in conn.execute(select(ASSIGNMENT.c.id, ASSIGNMENT.c.user_id, ASSIGNMENT.c.role,
                                             ORG_UNIT.c.key, ASSIGNMENT.c.credential_id)
                                      .outerjoin(ORG_UNIT, ORG_UNIT.c.id == ASSIGNMENT.c.org_unit_id)
                                      .where(ASSIGNMENT.c.user_id.in_(ids))):
                roles[grant.user_id].append({"id": grant.id, "role": grant.role, "unit": grant.key,
                                             "credential_id": grant.credential_id})
            return [{**dict(row._mapping), "roles": roles[row.id]} for row in rows]

    def user(self, user_id: int) -> dict[str, Any]:
        """One user: id, username, display name, email, whether an administrator and whether active."""
        with self._db.begin_read() as conn:
            row = conn.execute(select(USER.c.id, USER.c.username, USER.c.display_name, USER.c.email,
                                      USER.c.is_admin, USER.c.active).where(USER.c.id == user_id)).first()
        if row is None:
            raise NotFound("user", user_id)
        return dict(row._mapping)

    def user_id(self, username: str) -> int:
        """The id of a user by username."""
        with self._db.begin_read() as conn:
            found = conn.execute(select(USER.c.id).where(USER.c.username == username)).scalar()
        if found is None:
            raise NotFound("user", username)
        return int(found)

    def credential_team(self, credential_id: int) -> list[dict[str, Any]]:
        """The people holding roles on one credential alone (its team): assignment id, role, username, name and
        whether active (callers check first that the credential is the reader's to see)."""
        with self._db.begin_read() as conn:
            rows = conn.execute(select(ASSIGNMENT.c.id, ASSIGNMENT.c.role, USER.c.id.label("user_id"),
                                       USER.c.username, USER.c.display_name, USER.c.active)
                                .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
                                .where(ASSIGNMENT.c.credential_id == credential_id)
                                .order_by(ASSIGNMENT.c.role, USER.c.display_name))
            return [dict(row._mapping) for row in rows]

    def directory(self) -> list[dict[str, Any]]:
        """Every active person (id, username, name), by name: whom a role can be given to."""
        with self._db.begin_read() as conn:
            rows = conn.execute(select(USER.c.id, USER.c.username, USER.c.display_name)
                                .where(USER.c.active.is_(True)).order_by(USER.c.display_name, USER.c.username))
            return [dict(row._mapping) for row in rows]

    # -- org units ------------------------------------------------------------------------------------------

    def units(self) -> list[dict[str, Any]]:
        """Every org unit, with its parent's key."""
        parent = ORG_UNIT.alias("parent")
        with self._db.begin_read() as conn:
            rows = conn.execute(select(ORG_UNIT.c.id, ORG_UNIT.c.key, ORG_UNIT.c.name, ORG_UNIT.c.kind,
                                       ORG_UNIT.c.email, parent.c.key.label("parent"))
                                .outerjoin(parent, parent.c.id == ORG_UNIT.c.parent_id).order_by(ORG_UNIT.c.id))
            return [dict(row._mapping) for row in rows]

    def create_unit(self, *, key: str, name: str, kind: str, by: Caller, parent: str | None = None,
                    email: str | None = None) -> int:
        """Add an org unit (administrators); returns its id."""
        require_admin(by, "do this")
        if kind not in ("institution", "faculty", "department"):
            raise InvalidInput("kind", "must be institution, faculty or department")
        if not key or len(key) > 100 or not all(c.isalnum() or c in "_.-" for c in key) or not key[0].isalnum():
            raise InvalidInput("key", "use letters, digits, '_', '.' and '-' (at most 100), starting with a letter "
                                      "or digit")
        with self._db.begin() as conn:
            if conn.execute(select(ORG_UNIT.c.id).where(ORG_UNIT.c.key == key)).first() is not None:
                raise Conflict(f"org unit '{key}' exists already")
            parent_id = None
            if parent is not None:
                parent_id = conn.execute(select(ORG_UNIT.c.id).where(ORG_UNIT.c.key == parent)).scalar()
                if parent_id is None:
                    raise NotFound("org unit", parent)
            created = conn.execute(insert(ORG_UNIT), {"key": key, "name": name.strip() or key, "kind": kind,
                                                      "parent_id": parent_id, "email": email,
                                                      "handles": []}).inserted_primary_key
            assert created is not None
        self._units_changed()
        return int(created[0])

    def unit_id(self, key: str) -> int:
        """The id of an org unit by key."""
        with self._db.begin_read() as conn:
            found = conn.execute(select(ORG_UNIT.c.id).where(ORG_UNIT.c.key == key)).scalar()
        if found is None:
            raise NotFound("org unit", key)
        return int(found)

    # -- role assignments -----------------------------------------------------------------------------------

    def assign(self, *, user_id: int, role: str, by: Caller, unit_id: int | None = None,
               credential_id: int | None = None) -> None:
        """Give a user a role for an org unit (administrators) or for one credential (its editors too)."""
        if (unit_id is None) == (credential_id is None):
            raise InvalidInput("scope", "give exactly one of an org unit or a credential")
        if unit_id is not None:
            require_admin(by, "do this")
        with self._db.begin() as conn:
            if conn.execute(select(USER.c.id).where(USER.c.id == user_id)).first() is None:
                raise NotFound("user", user_id)
            if unit_id is not None and conn.execute(select(ORG_UNIT.c.id).where(ORG_UNIT.c.id == unit_id)).first() \
                    is None:
                raise NotFound("org unit", unit_id)
            self._add_assignment(conn, user_id, role, unit_id, credential_id)

    def unassign(self, *, assignment_id: int, by: Caller) -> None:
        """Take a role assignment away."""
        require_admin(by, "do this")
        with self._db.begin() as conn:
            if conn.execute(delete(ASSIGNMENT).where(ASSIGNMENT.c.id == assignment_id)).rowcount != 1:
                raise NotFound("role assignment", assignment_id)

    def _add_assignment(self, conn: Connection, user_id: int, role: str, unit_id: int | None,
                        credential_id: int | None) -> int:
        if role not in self._roles:
            raise InvalidInput("role", f"unknown role '{role}'{did_you_mean(role, self._roles)}; roles come from "
                                       f"the definitions: {', '.join(sorted(self._roles))}")
        exists = conn.execute(select(ASSIGNMENT.c.id).where(
            ASSIGNMENT.c.user_id == user_id, ASSIGNMENT.c.role == role,
            ASSIGNMENT.c.org_unit_id.is_(None) if unit_id is None else ASSIGNMENT.c.org_unit_id == unit_id,
            ASSIGNMENT.c.credential_id.is_(None) if credential_id is None
            else ASSIGNMENT.c.credential_id == credential_id)).first()
        if exists is not None:
            return 0
        conn.execute(insert(ASSIGNMENT), {"user_id": user_id, "role": role, "org_unit_id": unit_id,
                                          "credential_id": credential_id})
        return 1

    # -- delegations ----------------------------------------------------------------------------------------

    def delegate(self, *, to_username: str, starts_on: date, ends_on: date, by: Caller,
                 role: str | None = None) -> int:
        """Let another person decide in the caller's place, for one role or all, between two days of the
        institution's calendar (inclusive): from local midnight of the first to local midnight after the last."""
        if by.user_id is None:
            raise Forbidden("only a person can delegate their approvals")
        if ends_on < starts_on:
            raise InvalidInput("ends_on", "must not be before the first day", label="Last day")
        today = self._days.day_of(self._clock.now())
        if ends_on < today:
            raise InvalidInput("ends_on", f"{ends_on.isoformat()} is already over (today is {today.isoformat()}, "
                                          f"{self._days.place} time)", label="Last day")
        if (ends_on - starts_on).days > MAX_DELEGATION_DAYS:
            raise InvalidInput("ends_on", f"a delegation lasts at most {MAX_DELEGATION_DAYS} days")
        own = {g.role for g in by.grants if not g.delegated}
        if role is not None and role not in own:
            raise InvalidInput("role", f"you do not hold the role '{role}'; your roles: {', '.join(sorted(own))}")
        with self._db.begin() as conn:
            target = conn.execute(select(USER.c.id, USER.c.active).where(USER.c.username == to_username)).first()
            if target is None or not target.active:
                raise NotFound("user", to_username)
            if target.id == by.user_id:
                raise InvalidInput("to", "you cannot delegate to yourself")
            key = conn.execute(insert(DELEGATION), {
                "from_user_id": by.user_id, "to_user_id": target.id, "role": role, "starts_on": starts_on,
                "ends_on": ends_on, "created_at": self._clock.now()}).inserted_primary_key
            assert key is not None
            return int(key[0])

    def delegations(self, *, by: Caller) -> list[dict[str, Any]]:
        """Delegations the caller gave or received (all of them for an administrator)."""
        giver = USER.alias("giver")
        taker = USER.alias("taker")
        query = (select(DELEGATION.c.id, giver.c.username.label("from_user"), taker.c.username.label("to_user"),
                        DELEGATION.c.role, DELEGATION.c.starts_on, DELEGATION.c.ends_on, DELEGATION.c.revoked_at)
                 .join(giver, giver.c.id == DELEGATION.c.from_user_id)
                 .join(taker, taker.c.id == DELEGATION.c.to_user_id).order_by(DELEGATION.c.id))
        if not by.sees_everything:
            query = query.where(or_(DELEGATION.c.from_user_id == by.user_id, DELEGATION.c.to_user_id == by.user_id))
        with self._db.begin_read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def revoke_delegation(self, *, delegation_id: int, by: Caller) -> None:
        """End a delegation now (the person who gave it, or an administrator)."""
        with self._db.begin() as conn:
            row = conn.execute(select(DELEGATION.c.from_user_id, DELEGATION.c.revoked_at)
                               .where(DELEGATION.c.id == delegation_id)).first()
            if row is None or not (by.sees_everything or row.from_user_id == by.user_id):
                raise NotFound("delegation", delegation_id)
            if row.revoked_at is None:
                conn.execute(update(DELEGATION).where(DELEGATION.c.id == delegation_id)
                             .values(revoked_at=self._clock.now()))


def _parents_first(org: OrgFile) -> list[Any]:
    """Units ordered so that each parent in the file comes before its children."""
    pending = list(org.units)
    placed: set[str] = set()
    in_file = {unit.key for unit in org.units}
    ordered = []
    while pending:
        ready = [u for u in pending if u.parent is None or u.parent in placed or u.parent not in in_file]
        if not ready:
            raise InvalidInput("units", "the units' parents form a cycle: "
                                        + ", ".join(u.key for u in pending))
        for unit in ready:
            ordered.append(unit)
            placed.add(unit.key)
            pending.remove(unit)
    return ordered
