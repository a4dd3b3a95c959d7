"""Reading plans: one credential's plan beside what happened and the forecast, the portfolio timeline (a page of
credentials at a time, filtered by faculty and intake) and the plan's dates for the calendar feed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select

from workflow.clock import Clock, LocalDays
from workflow.definitions.model import Definition
from workflow.errors import NotFound
from workflow.notify.calendar import CalendarEntry
from workflow.services.access import AccessService, Caller, visible_clause
from workflow.services.definitions import DefinitionRegistry
from workflow.services.milestones import timeline
from workflow.services.schedule import Forecast, forecast, medians, plan_durations, plan_path, stay_days, typical_days
from workflow.store.database import Database
from workflow.store.tables import CREDENTIAL, EVENT, PLAN

MAX_TIMELINE_PAGE = 100
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class PhaseLine:
    """One planned phase: its baseline and planned end, when it really started and ended, and its forecast end."""

    state: str
    title: str
    baseline: date | None
    planned: date | None
    started: date | None
    ended: date | None
    forecast: date | None
    current: bool
    basis: str  # where the forecast's length of this phase comes from: "history" or "plan"

    @property
    def moved(self) -> bool:
        """Whether the plan has moved this date away from the baseline."""
        return self.baseline is not None and self.planned is not None and self.baseline != self.planned


@dataclass(frozen=True)
class PlanView:
    """A credential's plan as people read it."""

    credential_id: int
    title: str
    org_unit_id: int | None
    version: int
    state: str
    state_title: str
    phases: tuple[PhaseLine, ...]
    target: date | None
    intake: str
    baseline_launch: date | None
    forecast: Forecast
    today: date

    @property
    def planned(self) -> bool:
        return self.target is not None

    @property
    def slip_target(self) -> int | None:
        """Days the forecast launch is after the target (negative: before it)."""
        if self.target is None or self.forecast.launch is None:
            return None
        return (self.forecast.launch - self.target).days

    @property
    def slip_baseline(self) -> int | None:
        """Days the forecast launch is after the baseline's launch."""
        if self.baseline_launch is None or self.forecast.launch is None:
            return None
        return (self.forecast.launch - self.baseline_launch).days

    @property
    def launch_title(self) -> str:
        return self.phases[-1].title if self.phases else ""


def _dates(values: Mapping[str, Any] | None) -> dict[str, date]:
    return {k: date.fromisoformat(str(v)) for k, v in (values or {}).items()}


def describe(definition: Definition, row: Any, plan: Any | None, moves: Sequence[Any], *, now: datetime,
             days: LocalDays, history: Mapping[str, tuple[float, int]]) -> PlanView:
    """A credential's plan view from its row (id, title, org_unit_id, version, state, previous_state,
    state_entered_at, created_at), its plan row (or None), its moves (``at``, ``to_state``, oldest first, the
    creation first) and the institution's typical phase lengths (:func:`workflow.services.schedule.medians`)."""
    path = plan_path(definition)
    today = days.day_of(now)
    planned = _dates(plan.dates) if plan is not None else {}
    baseline = _dates(plan.baseline) if plan is not None else {}
    stays = timeline(definition, moves[1:], created_at=moves[0].at if moves else row.created_at, now=now,
                     initial=moves[0].to_state if moves else None)
    last = {m.state: m for m in stays}  # the latest stay in each state
    typical = typical_days(history, path, plan_durations(definition, path, planned or None))
    launch = last.get(path[-1]) if path else None
    launched_on = days.day_of(launch.left_at) if (launch is not None and launch.left_at is not None
                                                  and row.state not in path) else None
    state = definition.states.get(row.state)
    if state is not None and state.final and launched_on is None:
        expected = Forecast({}, None)
    else:
        expected = forecast(path, state=row.state, entered=days.day_of(row.state_entered_at), today=today,
                            typical=typical, previous=row.previous_state, launched_on=launched_on)
    phases = []
    for sid in path:
        stay = last.get(sid)
        phases.append(PhaseLine(
            sid, definition.states[sid].title, baseline.get(sid), planned.get(sid),
            days.day_of(stay.entered_at) if stay else None,
            days.day_of(stay.left_at) if stay and stay.left_at else None,
            expected.ends.get(sid), sid == row.state, typical[sid][1]))
    return PlanView(int(row.id), str(row.title), row.org_unit_id, int(row.version), str(row.state),
                    state.title if state else str(row.state), tuple(phases),
                    plan.target_on if plan is not None else None, plan.intake if plan is not None else "",
                    baseline.get(path[-1]) if path else None, expected, today)


_ROW = (CREDENTIAL.c.id, CREDENTIAL.c.title, CREDENTIAL.c.org_unit_id, CREDENTIAL.c.version, CREDENTIAL.c.state,
        CREDENTIAL.c.previous_state, CREDENTIAL.c.state_entered_at, CREDENTIAL.c.created_at,
        CREDENTIAL.c.definition_name, CREDENTIAL.c.definition_version)
_PLAN = (PLAN.c.credential_id, PLAN.c.target_on, PLAN.c.intake, PLAN.c.dates, PLAN.c.baseline, PLAN.c.alerted)


@dataclass(frozen=True)
class TimelineFilter:
    """What the timeline shows: an org unit (and everything below it) and an intake."""

    org_unit_id: int | None = None
    intake: str | None = None


class PlanViews:
    """Reads only. The institution's typical phase lengths are worked out once a day per definition."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService, clock: Clock,
                 terms: Mapping[str, date]) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._clock = clock
        self.terms = dict(sorted(terms.items(), key=lambda item: item[1]))
        self._history: dict[tuple[str, date], dict[str, tuple[float, int]]] = {}
        self._lock = threading.Lock()

    @property
    def days(self) -> LocalDays:
        return self._access.days

    def history(self, definition_name: str) -> dict[str, tuple[float, int]]:
        """The median finished stay in each state of ``definition_name``'s credentials (and how many), as of
        today: read from every credential's history the first time it is asked for each day."""
        key = (definition_name, self.days.day_of(self._clock.now()))
        with self._lock:
            found = self._history.get(key)
        if found is not None:
            return found
        query = (select(EVENT.c.credential_id, EVENT.c.at, EVENT.c.to_state)
                 .join(CREDENTIAL, CREDENTIAL.c.id == EVENT.c.credential_id)
                 .where(CREDENTIAL.c.definition_name == definition_name, EVENT.c.to_state.isnot(None))
                 .order_by(EVENT.c.credential_id, EVENT.c.seq))
        with self._db.begin_read() as conn:
            moves = ((r.credential_id, r.at.timestamp() / DAY_SECONDS, r.to_state)
                     for r in conn.execute(query.execution_options(yield_per=5000)))
            found = medians(stay_days(moves))
        with self._lock:
            self._history = {k: v for k, v in self._history.items() if k[1] == key[1]}
            self._history[key] = found
        return found

    def forget_history(self) -> None:
        """Work the typical lengths out again when next asked (after histories were loaded in bulk)."""
        with self._lock:
            self._history.clear()

    def get(self, credential_id: int, *, by: Caller) -> PlanView:
        """One credential's plan, what happened and the forecast.

        Raises:
            NotFound: no such credential, or not one ``by`` may see.
        """
        with self._db.begin_read() as conn:
            row = conn.execute(select(*_ROW).where(CREDENTIAL.c.id == credential_id)).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            plan = conn.execute(select(*_PLAN).where(PLAN.c.credential_id == credential_id)).first()
            moves = self._moves(conn, [credential_id]).get(credential_id, [])
        return self._describe(row, plan, moves)

    def _describe(self, row: Any, plan: Any | None, moves: Sequence[Any]) -> PlanView:
        definition = self._definitions.engine(row.definition_name, row.definition_version).definition
        return describe(definition, row, plan, moves, now=self._clock.now(), days=self.days,
                        history=self.history(row.definition_name))

    @staticmethod
    def _moves(conn: Any, ids: Sequence[int]) -> dict[int, list[Any]]:
        found: dict[int, list[Any]] = {}
        if ids:
            for event in conn.execute(select(EVENT.c.credential_id, EVENT.c.at, EVENT.c.to_state)
                                      .where(EVENT.c.credential_id.in_(ids), EVENT.c.to_state.isnot(None))
                                      .order_by(EVENT.c.credential_id, EVENT.c.seq)):
                found.setdefault(event.credential_id, []).append(event)
        return found

    def for_credentials(self, ids: Sequence[int], *, by: Caller) -> dict[int, PlanView]:
        """The plans of some credentials (those ``by`` may see), by id: three statements however many."""
        if not ids:
            return {}
        joined = CREDENTIAL.outerjoin(PLAN, PLAN.c.credential_id == CREDENTIAL.c.id)
        with self._db.begin_read() as conn:
            rows = conn.execute(select(*_ROW, *_PLAN).select_from(joined)
                                .where(CREDENTIAL.c.id.in_(list(ids)), visible_clause(by))).all()
            moves = self._moves(conn, [r.id for r in rows])
        return {r.id: self._describe(r, r if r.credential_id is not None else None, moves.get(r.id, []))
                for r in rows}

    def intakes(self) -> list[str]:
        """The intakes the administrator configured, earliest first."""
        return list(self.terms)

    def timeline(self, *, by: Caller, where: TimelineFilter, limit: int = 25,
                 offset: int = 0) -> tuple[list[PlanView], int]:
        """One page of the credentials ``by`` can see (newest first), each with its plan and forecast, and how
        many match: four statements whatever the number of credentials."""
        limit = max(1, min(limit, MAX_TIMELINE_PAGE))
        conditions = [visible_clause(by)]
        if where.org_unit_id is not None:
            conditions.append(CREDENTIAL.c.org_unit_id.in_(self._access.tree().below([where.org_unit_id])))
        source: Any = CREDENTIAL
        if where.intake:
            source = CREDENTIAL.join(PLAN, PLAN.c.credential_id == CREDENTIAL.c.id)
            conditions.append(PLAN.c.intake == where.intake)
        condition = and_(*conditions)
        # The page's ids first, from the credential table's indexes alone, then their rows with their plans: an outer
        # join sorted by id leads SQLite's planner away from the index.
        with self._db.begin_read() as conn:
            total = int(conn.execute(select(func.count()).select_from(source).where(condition)).scalar() or 0)
            ids = list(conn.execute(select(CREDENTIAL.c.id).select_from(source).where(condition)
                                    .order_by(CREDENTIAL.c.id.desc()).offset(max(0, offset)).limit(limit)).scalars())
        found = self.for_credentials(ids, by=by)
        return [found[i] for i in ids if i in found], total

    def calendar(self, *, by: Caller, link: Callable[[int], str], domain: str,
                 limit: int = 500) -> list[CalendarEntry]:
        """The planned ends of phases still to come and the target launches of the plans ``by`` can see."""
        today = self.days.day_of(self._clock.now())
        entries: list[CalendarEntry] = []
        with self._db.begin_read() as conn:
            rows = conn.execute(select(*_ROW, *_PLAN).join(PLAN, PLAN.c.credential_id == CREDENTIAL.c.id)
                                .where(visible_clause(by), PLAN.c.target_on >= today)
                                .order_by(PLAN.c.target_on).limit(limit)).all()
        for row in rows:
            definition = self._definitions.engine(row.definition_name, row.definition_version).definition
            path = plan_path(definition)
            if row.state not in path:
                continue
            for sid, day in _dates(row.dates).items():
                if sid in path[path.index(row.state):] and day >= today:
                    title = definition.states[sid].title
                    what = "Launch" if sid == path[-1] else f"{title} planned to end"
                    entries.append(CalendarEntry(f"plan-{row.id}-{sid}@{domain}", f"{what} — {row.title}", day,
                                                 url=link(row.id)))
        return entries
