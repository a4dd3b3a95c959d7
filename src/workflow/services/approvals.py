"""The approvals table: every decision waiting for a person (credential × gate × the role they decide in, their
own or delegated), sorted, filtered, searched and paged by the database.

Why a derived table. Which decisions wait for whom depends on the engine: approver rules that apply to the
credential's data, stages that open when the stage before is complete, approvals that stop counting when what
they were made on changes, and checklist items that apply only to some credentials. Evaluating that per candidate
in Python meant reading every candidate's entries and decisions to sort by "checklist complete" or to count the
overdue ones: work in proportion to the database, not to the page. So the write path keeps the engine's answer
per credential in ``gate_waiting`` (:mod:`workflow.store.waiting`: one row per credential, gate and approver role
still short of approvals, with the principals whose approval counts, the checklist count and the due date), and
this module asks it with SQL alone:

* one ``SELECT`` per (role, principal) the person decides for — their own grants and those delegated to them,
  each scoped to its org units (and everything under them) or its credential — joined to the credential, without
  the rows that principal has approved already; ``UNION ALL`` of those, usually one or two;
* filters in each branch (gate, faculty as a set of org units, due before or within a week of now, a
  case-insensitive substring of the title with ``LIKE``), sort and ``LIMIT``/``OFFSET`` on the union, and one
  ``COUNT`` (when filtered, of everything waiting and of what matches in the same pass: the heading counts
  everything);
* titles of gates and roles and faculty names are ``CASE`` expressions built from the definitions and the org
  units, so sorting by them needs no join; "changed since last look" is the credential's chain head minus the seq
  the person last saw (``credential_look``): a left join to every matching row only to sort by it, otherwise one
  read for the page's rows.

The rows carry the credential's title, org unit and version (the write path refreshes them with every action on
a credential that can wait), so the credentials that are counted or skipped are never read. The cost is the
person's own waiting rows (found through the index on ``(role, org_unit_id, due_at)``), counted and sorted by the
database, plus the page, whatever the size of the database. bench/scale_bench.py ``--inbox`` measures it
(bench/report/inbox.md). Simpler designs were measured or ruled out first: evaluating candidates in Python reads
every candidate to sort or count; SQL alone without the derived table cannot say which approver stage is open,
which approvals still count (their snapshot against the current data) or which checklist items apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, func, literal, not_, or_, select, union_all

from workflow.errors import InvalidInput
from workflow.services.access import Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.store.database import Database
from workflow.store.looks import LOOK
from workflow.store.people import ORG_UNIT, USER
from workflow.store.tables import CREDENTIAL
from workflow.store.waiting import GATE_WAITING, approved_marker

SORTS = {"due": "asc", "title": "asc", "faculty": "asc", "gate": "asc", "waiting": "asc", "checklist": "desc",
         "changes": "desc", "role": "asc"}
"""Sort keys and the direction each starts in."""
DUE = ("all", "overdue", "week")
PER_PAGE, MAX_PER_PAGE, MAX_SEARCH = 25, 200, 200
_NEVER_SEEN = 1_000_000_000  # sorts "new" above any number of changes


@dataclass(frozen=True)
class ApprovalQuery:
    """What the person asks of their approvals table (the URL's parameters)."""

    sort: str = "due"
    direction: str = ""  # "asc", "desc", or "" for the column's own
    gate: str = ""
    faculty: int | None = None
    due: str = "all"
    search: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def descending(self) -> bool:
        return (self.direction or SORTS.get(self.sort, "asc")) == "desc"

    @property
    def filtered(self) -> bool:
        return bool(self.gate or self.faculty is not None or self.due != "all" or self.search)

    def check(self) -> None:
        """Refuse what cannot be asked, naming the parameter.

        Raises:
            InvalidInput: an unknown sort key, direction or due status, a page below 1, a page size outside
                1..200, or a search longer than 200 characters.
        """
        if self.sort not in SORTS:
            raise InvalidInput("sort", f"sort by one of {', '.join(SORTS)}, not {self.sort[:40]!r}")
        if self.direction not in ("", "asc", "desc"):
            raise InvalidInput("direction", "must be asc or desc")
        if self.due not in DUE:
            raise InvalidInput("due", f"must be one of {', '.join(DUE)}")
        if self.page < 1:
            raise InvalidInput("page", "pages start at 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidInput("per_page", f"must be between 1 and {MAX_PER_PAGE}")
        if len(self.search) > MAX_SEARCH:
            raise InvalidInput("search", f"search for at most {MAX_SEARCH} characters")


@dataclass
class ApprovalPage:
    """One page of the table, how many rows match, and what the filters can choose from."""

    items: list[dict[str, Any]]
    total: int  # rows matching the filters
    everything: int  # rows waiting, filters aside
    query: ApprovalQuery
    gates: list[tuple[str, str]] = field(default_factory=list)  # (key, title)
    faculties: list[tuple[int, str]] = field(default_factory=list)  # (org unit id, name)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    @property
    def first(self) -> int:
        return min(self.total, (self.query.page - 1) * self.query.per_page + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.query.page * self.query.per_page)


@dataclass(frozen=True)
class _Deciding:
    """A role the person decides in for one principal, and where."""

    role: str
    principal: str
    units: frozenset[int]
    credentials: frozenset[int]


class ApprovalsTable:
    """Reads the approvals table of a person from ``gate_waiting``."""

    def __init__(self, database: Database, definitions: DefinitionRegistry) -> None:
        self._db = database
        self._definitions = definitions

    def page(self, *, by: Caller, query: ApprovalQuery, now: datetime | None = None) -> ApprovalPage:
        """The page ``query`` asks for (:meth:`ApprovalQuery.check` first); ``now`` is needed to filter by due
        status.

        Raises:
            InvalidInput: see :meth:`ApprovalQuery.check`.
        """
        query.check()
        gate_titles, role_titles = self._titles()
        deciding = _deciding(by, set(role_titles) & self._approver_roles())
        with self._db.begin_read() as conn:
            units = conn.execute(select(ORG_UNIT.c.id, ORG_UNIT.c.name, ORG_UNIT.c.kind, ORG_UNIT.c.parent_id)).all()
            faculty_of = _faculties(units)
            reach = by.tree.below(u for d in deciding for u in d.units)
            faculties = sorted({faculty_of[u] for u in reach if u in faculty_of}, key=lambda f: f[1])
            gates = sorted({(k, t) for k, t in gate_titles.items()}, key=lambda g: g[1])
            if not deciding:
                return ApprovalPage([], 0, 0, query, gates, faculties)
            names = {f_id: name for f_id, name in faculties}
            if query.faculty is not None and query.faculty not in names:
                raise InvalidInput("faculty", "choose one of the faculties in the list")
            if query.gate and query.gate not in gate_titles:
                raise InvalidInput("gate", "choose one of the gates in the list")
            unit_faculty = {u: f[1] for u, f in faculty_of.items()}
            filters = _filters(query, now, faculty_units=None if query.faculty is None else
                               frozenset(u for u, f in faculty_of.items() if f[0] == query.faculty))
            matching = _union(by, deciding, filters)
            if filters:  # both counts in one pass over the person's rows
                counted = _union(by, deciding, [], matches=and_(*filters))
                everything, total = (int(n or 0) for n in conn.execute(
                    select(func.count(), func.sum(counted.c.matches)).select_from(counted)).one())
            else:
                total = everything = int(conn.execute(select(func.count()).select_from(matching)).scalar_one())
            rows = conn.execute(_sorted(matching, by, query, gate_titles, role_titles, unit_faculty)).all() \
                if total else []
            looks = {r.credential_id: (r.seen_seq, r.seen_at) for r in rows} if query.sort == "changes" else \
                _looks(conn, by, [r.credential_id for r in rows])
            delegated = sorted({r.principal for r in rows if r.principal != by.username})
            ids = sorted({r.credential_id for r in rows})
            states = {c.id: c for c in conn.execute(
                select(CREDENTIAL.c.id, CREDENTIAL.c.state, CREDENTIAL.c.definition_name,
                       CREDENTIAL.c.definition_version).where(CREDENTIAL.c.id.in_(ids)))} if ids else {}
            display = {u.username: u.display_name for u in conn.execute(
                select(USER.c.username, USER.c.display_name).where(USER.c.username.in_(delegated)))}
        items = [_item(r, states[r.credential_id], looks.get(r.credential_id, (None, None)), by, gate_titles,
                       role_titles, unit_faculty, display) for r in rows]
        return ApprovalPage(items, total, everything, query, gates, faculties)

    def _titles(self) -> tuple[dict[str, str], dict[str, str]]:
        """Gate key → title and role key → title, from the current version of every definition."""
        gates: dict[str, str] = {}
        roles: dict[str, str] = {}
        for name in self._definitions.names():
            definition = self._definitions.engine(name).definition
            for key, gate in definition.gates.items():
                gates.setdefault(key, gate.title)
            for key, role in definition.roles.items():
                roles.setdefault(key, role.title)
        return gates, roles

    def _approver_roles(self) -> set[str]:
        return {a.role for name in self._definitions.names()
                for gate in self._definitions.engine(name).definition.gates.values() for a in gate.approvers}


def _deciding(by: Caller, roles: set[str]) -> list[_Deciding]:
    """The caller's grants in approver roles, merged per role and principal."""
    scopes: dict[tuple[str, str], tuple[set[int], set[int]]] = {}
    for grant in by.grants:
        if grant.role not in roles:
            continue
        units, credentials = scopes.setdefault((grant.role, grant.principal), (set(), set()))
        if grant.org_unit_id is not None:
            units.add(grant.org_unit_id)
        if grant.credential_id is not None:
            credentials.add(grant.credential_id)
    return [_Deciding(role, principal, frozenset(units), frozenset(credentials))
            for (role, principal), (units, credentials) in sorted(scopes.items())]


def _faculties(units: Sequence[Any]) -> dict[int, tuple[int, str]]:
    """Org unit → (id, name) of its faculty: the nearest unit of kind faculty above it or itself, else itself."""
    by_id = {u.id: u for u in units}
    found: dict[int, tuple[int, str]] = {}
    for unit in units:
        node = unit
        while node is not None and node.kind != "faculty":
            node = by_id.get(node.parent_id)
        chosen = node if node is not None else unit
        found[unit.id] = (chosen.id, chosen.name)
    return found


def _filters(query: ApprovalQuery, now: datetime | None, faculty_units: frozenset[int] | None) -> list[Any]:
    """The conditions on ``gate_waiting`` that ``query``'s filters ask for."""
    w = GATE_WAITING.c
    filters: list[Any] = []
    if query.gate:
        filters.append(w.gate == query.gate)
    if faculty_units is not None:
        filters.append(w.org_unit_id.in_(sorted(faculty_units)))
    if query.due != "all" and now is None:
        raise ValueError("filtering by due status needs the time now")
    if query.due == "overdue":
        filters.append(w.due_at < now)
    elif query.due == "week":
        assert now is not None
        filters.append(and_(w.due_at >= now, w.due_at < now + timedelta(days=7)))
    if query.search.strip():
        words = query.search.strip().lower()
        filters.append(func.lower(w.title).contains(words, autoescape=True))
    return filters


def _union(by: Caller, deciding: Sequence[_Deciding], filters: Sequence[Any], *, matches: Any = None) -> Any:
    """Every waiting row of the caller that ``filters`` keep, as a subquery (one branch per role and principal);
    with ``matches``, every row, and a column ``matches`` saying (1 or 0) whether that condition holds."""
    w = GATE_WAITING.c
    branches = []
    for d in deciding:
        scope = []
        if d.units:
            scope.append(w.org_unit_id.in_(sorted(by.tree.below(d.units))))
        if d.credentials:
            scope.append(w.credential_id.in_(sorted(d.credentials)))
        columns = [w.credential_id, w.gate, w.role, w.trigger, w.stage, w.checklist_done, w.checklist_total,
                   w.due_at, w.ready_at, w.title, w.org_unit_id, w.seq, literal(d.principal).label("principal")]
        if matches is not None:
            columns.append(case((matches, 1), else_=0).label("matches"))
        branches.append(
            select(*columns)
            .where(w.role == d.role, or_(*scope), not_(w.approved.contains(approved_marker(d.principal),
                                                                            autoescape=True)), *filters))
    return (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("waiting")


def _sorted(matching: Any, by: Caller, query: ApprovalQuery, gate_titles: Mapping[str, str],
            role_titles: Mapping[str, str], unit_faculty: Mapping[int, str]) -> Any:
    """The page of ``matching`` in the asked order; sorted by changes, with the person's last look at each
    credential (otherwise :func:`_looks` reads those of the page's rows alone)."""
    m = matching.c
    look = LOOK.alias("look")
    faculty = case(unit_faculty, value=m.org_unit_id, else_="") if unit_faculty else literal("")
    keys: dict[str, list[Any]] = {
        "due": [m.due_at.is_(None), m.due_at],
        "title": [func.lower(m.title)],
        "faculty": [faculty],
        "gate": [case(dict(gate_titles), value=m.gate, else_=m.gate)],
        "waiting": [m.ready_at],
        "checklist": [func.coalesce(cast(m.checklist_done, Float) / func.nullif(m.checklist_total, 0), 1.0),
                      m.checklist_done],
        "changes": [case((look.c.seq.is_(None), _NEVER_SEEN), else_=m.seq - look.c.seq)],
        "role": [case(dict(role_titles), value=m.role, else_=m.role)],
    }
    order = [k.desc() if query.descending and not (query.sort == "due" and position == 0) else k
             for position, k in enumerate(keys[query.sort])]
    order += [m.due_at.is_(None), m.due_at, m.ready_at, m.credential_id, m.gate, m.role]
    joined = matching.outerjoin(look, and_(look.c.credential_id == m.credential_id,
                                           look.c.user_id == (by.user_id or 0)))
    if query.sort == "changes":
        return (select(matching, look.c.seq.label("seen_seq"), look.c.seen_at).select_from(joined)
                .order_by(*order).limit(query.per_page).offset((query.page - 1) * query.per_page))
    return select(matching).order_by(*order).limit(query.per_page).offset((query.page - 1) * query.per_page)


def _looks(conn: Connection, by: Caller, ids: Sequence[int]) -> dict[int, tuple[int, datetime]]:
    """The person's last look at each of ``ids``: (seq seen, when)."""
    if not ids:
        return {}
    return {r.credential_id: (r.seq, r.seen_at) for r in conn.execute(
        select(LOOK.c.credential_id, LOOK.c.seq, LOOK.c.seen_at)
        .where(LOOK.c.user_id == (by.user_id or 0), LOOK.c.credential_id.in_(sorted(set(ids)))))}


def _item(r: Any, credential: Any, look: tuple[int | None, datetime | None], by: Caller,
          gate_titles: Mapping[str, str], role_titles: Mapping[str, str], unit_faculty: Mapping[int, str],
          display: Mapping[str, str]) -> dict[str, Any]:
    delegated = r.principal != by.username
    return {
        "credential_id": r.credential_id, "title": r.title, "state": credential.state,
        "definition": credential.definition_name, "definition_version": credential.definition_version,
        "org_unit_id": r.org_unit_id,
        "faculty": unit_faculty.get(r.org_unit_id, "") if r.org_unit_id is not None else "",
        "gate": r.gate, "gate_title": gate_titles.get(r.gate, r.gate), "trigger": r.trigger,
        "role": r.role, "role_title": role_titles.get(r.role, r.role), "stage": r.stage,
        "on_behalf_of": r.principal if delegated else None,
        "on_behalf_of_name": display.get(r.principal, r.principal) if delegated else None,
        "checklist_done": r.checklist_done, "checklist_total": r.checklist_total,
        "waiting_since": r.ready_at, "due_at": r.due_at,
        "changes": None if look[0] is None else {"count": r.seq - look[0], "seen_at": look[1]},
    }
