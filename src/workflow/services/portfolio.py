"""The project manager's portfolio: a page of credentials with each one's milestones and next dated event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from workflow.clock import Clock
from workflow.definitions.words import timer_title
from workflow.services.access import Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.services.milestones import Milestone, timeline
from workflow.services.views import CredentialSummary, CredentialViews
from workflow.store.database import Database
from workflow.store.tables import EVENT, TIMER


@dataclass(frozen=True)
class PortfolioLine:
    """One credential of the portfolio."""

    credential: CredentialSummary
    state_title: str
    phase: str
    milestones: tuple[Milestone, ...]
    next_timer: dict[str, Any] | None

    @property
    def slip_days(self) -> int | None:
        """How late the current phase is against its plan (None when on plan or unplanned)."""
        current = self.milestones[-1] if self.milestones else None
        return current.slip_days if current is not None and current.current else None


@dataclass(frozen=True)
class PortfolioFilter:
    """What the portfolio shows: a phase, an org unit (and everything below it), overdue only, and credentials
    a timer moves (renewal review, expiry) within some days."""

    phase: str | None = None
    org_unit_id: int | None = None
    overdue: bool = False
    due_within_days: int | None = None


class PortfolioService:
    """Reads only: the portfolio list, three statements per page whatever its length."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, views: CredentialViews,
                 clock: Clock) -> None:
        self._db = database
        self._definitions = definitions
        self._views = views
        self._clock = clock

    def phases(self) -> list[str]:
        """Every phase named by a current definition, in lifecycle order."""
        found: list[str] = []
        for name in self._definitions.names():
            for state in self._definitions.engine(name).definition.states.values():
                if state.phase and state.phase not in found:
                    found.append(state.phase)
        return found

    def page(self, *, by: Caller, where: PortfolioFilter, limit: int = 25,
             offset: int = 0) -> tuple[list[PortfolioLine], int]:
        """One page of the portfolio and the number of credentials that match."""
        states = None
        if where.phase is not None:
            states = {sid for name in self._definitions.names()
                      for sid, s in self._definitions.engine(name).definition.states.items() if s.phase == where.phase}
        rows, total = self._views.search(by=by, org_unit_id=where.org_unit_id, overdue=where.overdue,
                                               states=states, due_within_days=where.due_within_days,
                                               limit=limit, offset=offset)
        moves, timers = self._moves_and_timers([row.id for row in rows])
        now = self._clock.now()
        lines = []
        for row in rows:
            definition = self._definitions.engine(row.definition).definition
            mine = moves.get(row.id, [])
            created = mine[0].at if mine else row.updated_at
            initial = mine[0].to_state if mine else None
            state = definition.states.get(row.state)
            timer = timers.get(row.id)
            lines.append(PortfolioLine(row, state.title if state else row.state, state.phase if state else "",
                                       tuple(timeline(definition, mine[1:], created_at=created, now=now,
                                                      initial=initial)),
                                       {**timer, "title": timer_title(definition, str(timer["timer"]))}
                                       if timer else None))
        return lines, total

    def _moves_and_timers(self, ids: Sequence[int]) -> tuple[dict[int, list[Any]], dict[int, dict[str, Any]]]:
        if not ids:
            return {}, {}
        moves: dict[int, list[Any]] = {}
        timers: dict[int, dict[str, Any]] = {}
        with self._db.begin_read() as conn:
            for event in conn.execute(
                    select(EVENT.c.credential_id, EVENT.c.at, EVENT.c.from_state, EVENT.c.to_state)
                    .where(EVENT.c.credential_id.in_(ids), EVENT.c.to_state.isnot(None))
                    .order_by(EVENT.c.credential_id, EVENT.c.seq)):
                moves.setdefault(event.credential_id, []).append(event)
            soonest = (select(TIMER.c.credential_id, func.min(TIMER.c.due_at).label("due_at"))
                       .where(TIMER.c.credential_id.in_(ids), TIMER.c.status == "pending", TIMER.c.action == "fire")
                       .group_by(TIMER.c.credential_id).subquery())
            for timer in conn.execute(
                    select(TIMER.c.credential_id, TIMER.c.timer, TIMER.c.due_at)
                    .join(soonest, (soonest.c.credential_id == TIMER.c.credential_id)
                          & (soonest.c.due_at == TIMER.c.due_at))
                    .where(TIMER.c.credential_id.in_(ids), TIMER.c.status == "pending", TIMER.c.action == "fire")):
                timers.setdefault(timer.credential_id, {"timer": timer.timer, "due_at": timer.due_at})
        return moves, timers


def days_between(start: datetime, end: datetime) -> int:
    """Whole days from ``start`` to ``end``."""
    return int((end - start).total_seconds() // 86400)
