"""A committee's agenda: the decisions waiting for a committee role the person sits on, grouped by the meeting
they go to (the role's ``meets`` schedule; an item ready fewer than ``agenda_closes_days`` days before a meeting
goes to the next one)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select

from workflow.clock import LocalDays
from workflow.definitions.meetings import meeting_for, meetings
from workflow.services.access import Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.store.database import Database
from workflow.store.waiting import GATE_WAITING

MEETINGS = 3  # meetings shown
MAX_ITEMS = 200  # items read per committee, oldest first


class Agenda:
    """Reads the agendas of the committees a person sits on."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, days: LocalDays) -> None:
        self._db = database
        self._definitions = definitions
        self._days = days  # the institution's calendar: an item goes to the meeting by the local day it got ready

    def agendas(self, *, by: Caller, today: date) -> list[dict[str, Any]]:
        """For each committee role the caller holds themselves that meets: its next meetings with their items,
        and how many items go to a later meeting."""
        committees: dict[str, tuple[str, str, int]] = {}  # role → (title, rule, closing days)
        gate_titles: dict[str, str] = {}
        for name in self._definitions.names():
            definition = self._definitions.engine(name).definition
            for key, role in definition.roles.items():
                if role.kind == "committee" and role.meets:
                    committees.setdefault(key, (role.title, role.meets, role.agenda_closes_days))
            for key, gate in definition.gates.items():
                gate_titles.setdefault(key, gate.title)
        found = []
        for key in sorted({g.role for g in by.grants if not g.delegated and g.role in committees}):
            title, rule, closes = committees[key]
            grants = [g for g in by.grants if g.role == key and not g.delegated]
            units = by.tree.below(g.org_unit_id for g in grants if g.org_unit_id is not None)
            ids = {g.credential_id for g in grants if g.credential_id is not None}
            scope = [GATE_WAITING.c.org_unit_id.in_(sorted(units))] if units else []
            scope += [GATE_WAITING.c.credential_id.in_(sorted(ids))] if ids else []
            with self._db.begin_read() as conn:
                rows = conn.execute(
                    select(GATE_WAITING.c.credential_id, GATE_WAITING.c.gate, GATE_WAITING.c.ready_at,
                           GATE_WAITING.c.title)
                    .where(GATE_WAITING.c.role == key, or_(*scope))
                    .order_by(GATE_WAITING.c.ready_at, GATE_WAITING.c.credential_id).limit(MAX_ITEMS)).all()
            upcoming = meetings(rule, today, MEETINGS)
            days: dict[date, list[dict[str, Any]]] = {day: [] for day in upcoming}
            later = 0
            for row in rows:
                day = meeting_for(self._days.day_of(row.ready_at), upcoming, closes)
                if day is None:
                    later += 1
                    continue
                days[day].append({"credential_id": row.credential_id, "title": row.title, "gate": row.gate,
                                  "gate_title": gate_titles.get(row.gate, row.gate), "ready_at": row.ready_at})
            found.append({"role": key, "role_title": title, "closes_days": closes, "later": later,
                          "meetings": [{"day": day, "entries": entries} for day, entries in days.items()]})
        return found
