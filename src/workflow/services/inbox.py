"""What waits for each person: gates waiting for their decision, checklist items their roles owe, and their
dates for a calendar. Reads only, a page of candidate credentials at a time (no cap, no query per credential).

Only the states where the person could have work are looked at: those with a gate one of their roles decides,
or an item one of their roles owns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, and_, bindparam, or_, select, union_all

from workflow.definitions.model import Definition
from workflow.definitions.words import role_title, timer_title
from workflow.engine import Engine
from workflow.engine.due import due_days
from workflow.engine.requirements import Requirements
from workflow.errors import NotFound
from workflow.notify.calendar import CalendarEntry, gate_description, task_description
from workflow.services.access import AccessService, Caller, visible_clause
from workflow.services.agenda import Agenda
from workflow.services.approvals import MAX_PER_PAGE, ApprovalQuery, ApprovalsTable
from workflow.services.definitions import DefinitionRegistry
from workflow.services.views import MAX_PAGE, CredentialViews
from workflow.store.database import Database
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, GATE_DECISION, TIMER

# The checklist entries and decisions of a page of credentials are read at once.
CANDIDATE_PAGE, MAX_CANDIDATE_PAGE = 20, 800
YIELD = 3  # the first page reads this many candidates per item asked for: most lists are full after one page
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_PAGE_CREDENTIALS = select(CREDENTIAL).where(CREDENTIAL.c.id.in_(_IDS))
_PAGE_ENTRIES = select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id.in_(_IDS))
_PAGE_SOME_ENTRIES = _PAGE_ENTRIES.where(CHECKLIST_ENTRY.c.item_key.in_(bindparam("keys", expanding=True)))
_PAGE_DECISIONS = (select(GATE_DECISION.c.credential_id, GATE_DECISION.c.gate, GATE_DECISION.c.round,
                          GATE_DECISION.c.role, GATE_DECISION.c.actor, GATE_DECISION.c.principal,
                          GATE_DECISION.c.verdict, GATE_DECISION.c.comment, GATE_DECISION.c.seen)
                   .where(GATE_DECISION.c.credential_id.in_(_IDS))
                   .order_by(GATE_DECISION.c.credential_id, GATE_DECISION.c.id))


class Inbox:
    """A person's approvals waiting, tasks and calendar."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService,
                 views: CredentialViews) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._views = views
        self.table = ApprovalsTable(database, definitions)
        self.agenda = Agenda(database, definitions, access.days)

    def approvals_waiting(self, *, by: Caller, limit: int = 50) -> list[dict[str, Any]]:
        """Gates waiting for the caller's decision (in their own roles or as a delegate), oldest first (the
        approvals table's rows, :mod:`workflow.services.approvals`)."""
        found: list[dict[str, Any]] = []
        page = 1
        while len(found) < limit:
            got = self.table.page(by=by, query=ApprovalQuery(sort="waiting", page=page, per_page=MAX_PER_PAGE))
            found.extend(got.items)
            if page >= got.pages:
                break
            page += 1
        return found[:limit]

    def tasks(self, *, by: Caller, limit: int = 100) -> list[dict[str, Any]]:
        """Checklist items the caller's own roles owe on the credentials they can see."""
        own = {g.role for g in by.grants if not g.delegated}  # only states with items these own can hold work
        with_items = self._states_with(lambda req: any(item.owner in own for item in req.items))
        owned = {item.key for name in self._definitions.names()
                 for item in self._definitions.engine(name).items.values() if item.owner in own}
        found: list[dict[str, Any]] = []
        with self._db.begin_read() as conn:
            for row, entries, _ in self._candidate_pages(conn, by, with_items, limit, decisions=False,
                                                              items=owned):
                engine = self._definitions.engine(row.definition_name, row.definition_version)
                roles = by.roles_on(row.id, row.org_unit_id)
                for trigger, requirements in engine.requirements_from(row.state):
                    for item in requirements.items_for(row.data):
                        entry = entries.get(item.key)
                        if item.owner in roles and not (entry and entry.done):
                            found.append({"credential_id": row.id, "title": row.title, "state": row.state,
                                          "trigger": trigger, "item": item.key, "item_title": item.title,
                                          "owner": item.owner, "waiting_since": row.state_entered_at,
                                          "definition": row.definition_name,
                                          "definition_version": row.definition_version,
                                          "due_at": _due(engine, row, requirements, item.due_days),
                                          "note": entry.note if entry else "", "version": row.version})
                if len(found) >= limit:
                    break
        return found[:limit]

    def calendar(self, *, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """The caller's dates: gates waiting for their decision, checklist items they owe, planned ends of phases,
        reviews and expiries (each kind built by one small function below)."""
        return [*self._gate_entries(by, link, domain), *self._task_entries(by, link, domain),
                *self._milestone_entries(by, link, domain), *self._timer_entries(by, link, domain)]

    def _gate_entries(self, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """Decisions waiting for the caller, on the day they are due."""
        days, entries = self._access.days, []  # each entry is an all-day event on the institution's local day
        for waiting in self.approvals_waiting(by=by, limit=200):
            if waiting["due_at"] is None:
                continue
            definition = self._definitions.engine(waiting["definition"], waiting["definition_version"]).definition
            gate = definition.gates.get(waiting["gate"])
            state = definition.states[waiting["state"]].title if waiting["state"] in definition.states else ""
            entries.append(CalendarEntry(
                f"gate-{waiting['credential_id']}-{waiting['gate']}@{domain}",
                f"Decision due: {waiting['gate_title']} — {waiting['title']}", days.day_of(waiting["due_at"]),
                url=f"{link(waiting['credential_id'])}/gates/{waiting['gate']}",
                description=gate_description(waiting["gate_title"], waiting["title"], state,
                                             gate.description if gate else "")))
        return entries

    def _task_entries(self, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """Checklist items the caller's roles owe, on the day they are due."""
        days, entries = self._access.days, []
        for task in self.tasks(by=by, limit=500):
            if task["due_at"] is None:
                continue
            definition = self._definitions.engine(task["definition"], task["definition_version"]).definition
            state = definition.states[task["state"]].title if task["state"] in definition.states else task["state"]
            cid = task["credential_id"]
            entries.append(CalendarEntry(
                f"task-{cid}-{task['item']}@{domain}", f"Due: {task['item_title']} — {task['title']}",
                days.day_of(task["due_at"]), url=f"{link(cid)}#item-{cid}-{task['item']}",
                description=task_description(task["item_title"], task["title"], state,
                                             role_title(definition, task["owner"]))))
        return entries

    def _milestone_entries(self, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """The planned end of the phase each credential the caller sees is in."""
        days, entries = self._access.days, []
        rows, _ = self._views.search(by=by, limit=MAX_PAGE)
        for row in rows:
            engine = self._definitions.engine(row.definition)
            state = engine.definition.states.get(row.state)
            if state is not None and state.planned_days and row.state_entered_at is not None:
                entries.append(CalendarEntry(
                    f"milestone-{row.id}-{row.state}@{domain}",
                    f"Milestone: {state.title} planned to end — {row.title}",
                    days.day_of(row.state_entered_at + timedelta(days=state.planned_days)), url=link(row.id),
                    description=f"“{row.title}” is planned to finish {state.title} by this day."))
        return entries

    def _timer_entries(self, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """Dated events the scheduler will act on (reviews, expiries) on the credentials the caller sees."""
        days = self._access.days
        with self._db.begin_read() as conn:
            timers = conn.execute(select(TIMER.c.credential_id, TIMER.c.timer, TIMER.c.due_at, CREDENTIAL.c.title,
                                         CREDENTIAL.c.definition_name, CREDENTIAL.c.definition_version)
                                  .join(CREDENTIAL, CREDENTIAL.c.id == TIMER.c.credential_id)
                                  .where(TIMER.c.status == "pending", TIMER.c.action == "fire",
                                         visible_clause(by)).order_by(TIMER.c.due_at).limit(500)).all()
        return [CalendarEntry(f"timer-{t.credential_id}-{t.timer}@{domain}",
                              f"{timer_title(self._definition(t), t.timer)} — {t.title}", days.day_of(t.due_at),
                              url=link(t.credential_id)) for t in timers]

    def _definition(self, row: Any) -> Definition | None:
        try:
            return self._definitions.engine(row.definition_name, row.definition_version).definition
        except NotFound:
            return None

    def _states_with(self, wanted: Any) -> dict[str, set[str]]:
        """Definition name → states with a transition out whose requirements satisfy ``wanted``."""
        found: dict[str, set[str]] = {}
        for name in self._definitions.names():
            engine = self._definitions.engine(name)
            found[name] = {sid for sid in engine.definition.states
                           if any(wanted(req) for _, req in engine.requirements_from(sid))}
        return found

    def _candidates(self, by: Caller, states: Mapping[str, Collection[str]], after: tuple[Any, int] | None,
                    page: int) -> Any:
        """The next ``page`` candidates after ``after``, oldest in their state first: one branch per state, each
        read in index order (definition, state, time in it) and cut at ``page``, then merged, so that the cost
        follows the page, not how many credentials are in those states."""
        branches: list[Any] = []
        for name, sids in states.items():
            for sid in sorted(sids):
                branch = select(CREDENTIAL.c.id, CREDENTIAL.c.state_entered_at).where(
                    visible_clause(by), CREDENTIAL.c.definition_name == name, CREDENTIAL.c.state == sid)
                if after is not None:
                    branch = branch.where(or_(
                        CREDENTIAL.c.state_entered_at > after[0],
                        and_(CREDENTIAL.c.state_entered_at == after[0], CREDENTIAL.c.id > after[1])))
                cut = branch.order_by(CREDENTIAL.c.state_entered_at, CREDENTIAL.c.id).limit(page).subquery()
                branches.append(select(cut.c.id, cut.c.state_entered_at))
        merged = union_all(*branches).subquery("candidates")
        return select(merged.c.id, merged.c.state_entered_at).order_by(merged.c.state_entered_at,
                                                                        merged.c.id).limit(page)

    def _candidate_pages(self, conn: Connection, by: Caller, states: Mapping[str, Collection[str]], first: int, *,
                         decisions: bool, items: Collection[str] | None = None,
                         ) -> Iterator[tuple[Row[Any], dict[str, Any], list[Row[Any]]]]:
        """Every candidate, oldest in its state first, with its current checklist entries (only of ``items``, if
        given) and its gate decisions if asked: a page of credentials at a time, one statement per table per page.
        """
        if not any(states.values()):
            return
        page, after = max(CANDIDATE_PAGE, min(YIELD * first, MAX_CANDIDATE_PAGE)), None
        while True:
            keys = conn.execute(self._candidates(by, states, after, page)).all()  # from the index; rows below
            if not keys:
                return
            ids = [key.id for key in keys]
            found = {row.id: row for row in conn.execute(_PAGE_CREDENTIALS, {"ids": ids})}
            rows = [found[cid] for cid in ids if cid in found]
            entries: dict[int, list[Row[Any]]] = {cid: [] for cid in ids}
            for entry in (conn.execute(_PAGE_ENTRIES, {"ids": ids}) if items is None else
                          conn.execute(_PAGE_SOME_ENTRIES, {"ids": ids, "keys": sorted(items)})):
                entries[entry.credential_id].append(entry)
            decided: dict[int, list[Any]] = {cid: [] for cid in ids}
            if decisions:
                for decision in conn.execute(_PAGE_DECISIONS, {"ids": ids}):
                    decided[decision.credential_id].append(decision)
            for row in rows:
                rounds = row.rounds
                current = {e.item_key: e for e in entries[row.id] if e.round == rounds.get(e.item_key, 0)}
                yield row, current, decided[row.id]
            if len(keys) < page:
                return
            after = (keys[-1].state_entered_at, keys[-1].id)
            page = min(page * 2, MAX_CANDIDATE_PAGE)


def _due(engine: Engine, row: Row[Any], requirements: Requirements, item_days: int | None) -> datetime | None:
    """When a checklist item is due: its own days, else its gate's, else the end of the state's planned stay."""
    days = due_days(engine.definition, row.state, requirements, item_days)
    return row.state_entered_at + timedelta(days=days) if days else None


