"""Portfolio analytics, read from the counts folded from the histories (:mod:`workflow.store.analytics`): how many
credentials enter each phase by month and are in each now, how long phases and gates take (median and 90th
percentile), where credentials wait (days until each role's decisions and checklist items), how often phases end
within their planned days, and which renewals and expiries come in the next 30, 90 and 365 days — filtered by
faculty, definition and year."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select, true

from workflow.clock import Clock, LocalDays
from workflow.definitions.model import Definition
from workflow.definitions.words import gate_title, role_title, timer_title
from workflow.services.access import Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.store import analytics as folded
from workflow.store.database import Database
from workflow.store.people import ORG_UNIT
from workflow.store.tables import ANALYTICS_COUNT, ANALYTICS_MARK, CREDENTIAL, TIMER
from workflow.store.waiting import GATE_WAITING

HORIZONS = (30, 90, 365)
SETTLE = timedelta(minutes=2)


@dataclass(frozen=True)
class Filters:
    """Which credentials the figures count: one definition, one faculty, one year (None: all)."""

    definition: str | None = None
    faculty_id: int | None = None
    year: int | None = None


@dataclass(frozen=True)
class Spread:
    """How many days something took: ``count`` times, the median and the 90th percentile (nearest rank), and
    for a phase with a plan, how many ended within it."""

    label: str
    count: int
    median: float | None
    p90: int | None
    planned: int | None = None
    on_time: int | None = None

    @property
    def on_time_rate(self) -> float | None:
        """The share that ended within the plan (None without a plan or with nothing ended)."""
        return None if self.on_time is None or not self.count else self.on_time / self.count


@dataclass(frozen=True)
class Figures:
    """Everything the analytics page shows."""

    filters: Filters
    folded_through: datetime | None
    phases: tuple[str, ...]
    now_in_phase: tuple[tuple[str, int], ...]
    entries: tuple[tuple[str, dict[str, int]], ...]  # (YYYY-MM, phase → credentials entering it)
    phase_times: tuple[Spread, ...]
    gate_times: tuple[Spread, ...]
    decision_waits: tuple[Spread, ...]
    item_waits: tuple[Spread, ...]
    waiting_now: tuple[tuple[str, int, int], ...]  # (role, decisions waiting for it, of which overdue)
    by_faculty: tuple[tuple[str, dict[str, float | None]], ...]  # (faculty, phase → median days)
    upcoming: tuple[tuple[str, int, int, int], ...]  # (timer, within 30, 90, 365 days)
    on_time: Spread | None = None
    faculties: tuple[tuple[int, str], ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The figures as plain JSON (what the API answers)."""
        def spread(s: Spread) -> dict[str, Any]:
            return {"label": s.label, "count": s.count, "median_days": s.median, "p90_days": s.p90,
                    "planned_days": s.planned, "on_time": s.on_time, "on_time_rate": s.on_time_rate}
        return {
            "filters": {"definition": self.filters.definition, "faculty": self.filters.faculty_id,
                        "year": self.filters.year},
            "folded_through": self.folded_through.isoformat() if self.folded_through else None,
            "now_in_phase": [{"phase": p, "credentials": n} for p, n in self.now_in_phase],
            "entries_by_month": [{"month": m, "phases": counts} for m, counts in self.entries],
            "phase_days": [spread(s) for s in self.phase_times],
            "on_time": spread(self.on_time) if self.on_time else None,
            "gate_days": [spread(s) for s in self.gate_times],
            "decision_wait_days": [spread(s) for s in self.decision_waits],
            "item_wait_days": [spread(s) for s in self.item_waits],
            "decisions_waiting_now": [{"role": r, "waiting": n, "overdue": late} for r, n, late in self.waiting_now],
            "phase_median_days_by_faculty": [{"faculty": f, "phases": m} for f, m in self.by_faculty],
            "renewals_and_expiries": [{"timer": t, "within_30_days": a, "within_90_days": b, "within_365_days": c}
                                      for t, a, b, c in self.upcoming],
        }


def spread(label: str, histogram: Iterable[tuple[int, int]], planned: int | None = None) -> Spread:
    """The spread of a histogram of (days bucket, count): the median (the mean of the two middle values for an
    even count) and the 90th percentile by nearest rank, each the first day of its bucket (exact to 120 days)."""
    ordered = sorted((d, n) for d, n in histogram if n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return Spread(label, 0, None, None, planned, 0 if planned else None)

    def at_rank(rank: int) -> int:
        seen = 0
        for days, n in ordered:
            seen += n
            if seen >= rank:
                return days
        return ordered[-1][0]

    middle = (at_rank(total // 2) + at_rank(total // 2 + 1)) / 2
    median = float(at_rank((total + 1) // 2)) if total % 2 else middle
    on_time = sum(n for d, n in ordered if folded.bucket_last(d) <= planned) if planned else None
    return Spread(label, total, median, at_rank(math.ceil(0.9 * total)), planned, on_time)


class AnalyticsService:
    """Reads only (after bringing the folded counts up to date): the figures, for what the caller may see."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, days: LocalDays, clock: Clock,
                 settle: timedelta = SETTLE) -> None:
        self._db = database
        self._definitions = definitions
        self._days = days
        self._clock = clock
        self._settle = settle

    def fold(self) -> int:
        """Fold the events written since the last time; returns how many were read."""
        return folded.fold(self._db, now=self._clock.now(), settle=self._settle, day_of=self._days.day_of)

    def faculties(self, by: Caller) -> list[tuple[int, str]]:
        """The faculties whose figures ``by`` may see, by name."""
        with self._db.begin_read() as conn:
            return self._faculties(conn, by)

    def figures(self, *, by: Caller, where: Filters) -> Figures:
        """Every figure of the page, for the faculties ``by`` may see."""
        self.fold()
        now = self._clock.now()
        with self._db.begin_read() as conn:
            allowed = self._faculties(conn, by)
            names = dict(allowed)
            chosen = [where.faculty_id] if where.faculty_id is not None else list(names)
            chosen = [f for f in chosen if f in names]
            rows = self._counts(conn, where, chosen, everything=by.sees_everything and where.faculty_id is None)
            mark = conn.execute(select(ANALYTICS_MARK.c.folded_at).where(ANALYTICS_MARK.c.id == 1)).scalar()
            waiting = self._waiting(conn, chosen, now, everything=by.sees_everything and where.faculty_id is None)
            upcoming = self._upcoming(conn, where, chosen, now,
                                      everything=by.sees_everything and where.faculty_id is None)
        definitions = self._definitions_for(where)
        phase_of: dict[tuple[str, str], str] = {}
        planned: dict[tuple[str, str], int | None] = {}
        phases: list[str] = []
        for name, definition in definitions.items():
            for sid, state in definition.states.items():
                phase = state.phase or state.title
                phase_of[(name, sid)] = phase
                planned[(name, sid)] = state.planned_days
                if phase not in phases:
                    phases.append(phase)
        entered: dict[str, int] = defaultdict(int)
        left: dict[str, int] = defaultdict(int)
        months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        stays: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        on_plan: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # phase → (days, count, planned)
        by_faculty: dict[int, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        keyed: dict[str, dict[str, dict[int, int]]] = {k: defaultdict(lambda: defaultdict(int))
                                                      for k in ("gate", "decision", "item")}
        for r in rows:
            if r.definition_name not in definitions:
                continue
            definition = definitions[r.definition_name]
            if r.kind == "entered":
                phase = phase_of.get((r.definition_name, r.key), r.key)
                entered[phase] += r.count
                if where.year is None or r.period.startswith(f"{where.year}-"):
                    months[r.period][phase] += r.count
            elif r.kind == "stay":
                phase = phase_of.get((r.definition_name, r.key), r.key)
                left[phase] += r.count
                if where.year is None or r.period == str(where.year):
                    stays[phase][r.days] += r.count
                    by_faculty[r.faculty_id][phase][r.days] += r.count
                    plan = planned.get((r.definition_name, r.key))
                    if plan:
                        on_plan[phase].append((r.days, r.count, plan))
            elif r.kind in keyed and (where.year is None or r.period == str(where.year)):
                title = (gate_title(definition, r.key) if r.kind == "gate" else role_title(definition, r.key))
                keyed[r.kind][title][r.days] += r.count
        phase_times = []
        ended = on_time_total = 0
        for phase in phases:
            if phase not in stays:
                continue
            plans = on_plan.get(phase, [])
            planned_days = max((p for _, _, p in plans), default=None)
            s = spread(phase, stays[phase].items(), planned_days)
            if plans:
                timely = sum(n for d, n, p in plans if folded.bucket_last(d) <= p)
                s = Spread(s.label, s.count, s.median, s.p90, planned_days, timely)
                ended += sum(n for _, n, _ in plans)
                on_time_total += timely
            phase_times.append(s)
        role_of = {}
        for definition in definitions.values():
            for key in definition.roles:
                role_of[key] = role_title(definition, key)
        return Figures(
            filters=where, folded_through=mark, phases=tuple(phases),
            now_in_phase=tuple((p, entered[p] - left[p]) for p in phases if entered[p] - left[p] > 0),
            entries=tuple((m, dict(months[m])) for m in sorted(months)),
            phase_times=tuple(phase_times),
            gate_times=tuple(spread(t, h.items()) for t, h in sorted(keyed["gate"].items())),
            decision_waits=tuple(spread(t, h.items()) for t, h in sorted(keyed["decision"].items())),
            item_waits=tuple(spread(t, h.items()) for t, h in sorted(keyed["item"].items())),
            waiting_now=tuple((role_of.get(role, role), n, late) for role, n, late in waiting),
            by_faculty=tuple((names.get(f, "No faculty"), {p: spread(p, h.items()).median for p, h in per.items()})
                             for f, per in sorted(by_faculty.items(), key=lambda item: names.get(item[0], ""))),
            upcoming=tuple((timer_title(self._timer_definition(t), t), a, b, c) for t, a, b, c in upcoming),
            on_time=Spread("Every planned phase", ended, None, None, None, on_time_total) if ended else None,
            faculties=tuple(allowed),
        )

    def _definitions_for(self, where: Filters) -> dict[str, Definition]:
        names = [where.definition] if where.definition else self._definitions.names()
        return {n: self._definitions.engine(n).definition for n in names if n in self._definitions.names()}

    def _timer_definition(self, timer: str) -> Definition | None:
        for name in self._definitions.names():
            definition = self._definitions.engine(name).definition
            if any(t.key == timer for t in definition.timers):
                return definition
        return None

    def _faculties(self, conn: Connection, by: Caller) -> list[tuple[int, str]]:
        faculty_of = folded.faculties(conn)
        names = {r.id: r.name for r in conn.execute(select(ORG_UNIT.c.id, ORG_UNIT.c.name))}
        visible = set(faculty_of) if by.sees_everything else by.visible_units()
        return sorted({(faculty_of[u], names[faculty_of[u]]) for u in visible if u in faculty_of},
                      key=lambda item: item[1])

    def _counts(self, conn: Connection, where: Filters, chosen: Sequence[int], *, everything: bool) -> list[Any]:
        c = ANALYTICS_COUNT.c
        conditions = []
        if where.definition:
            conditions.append(c.definition_name == where.definition)
        if not everything:
            conditions.append(c.faculty_id.in_(list(chosen) or [-1]))
        query = (select(c.definition_name, c.faculty_id, c.kind, c.key, c.period, c.days,
                        func.sum(c.count).label("count"))
                 .where(and_(true(), *conditions))
                 .group_by(c.definition_name, c.faculty_id, c.kind, c.key, c.period, c.days))
        return list(conn.execute(query))

    def _units(self, conn: Connection, chosen: Sequence[int]) -> list[int]:
        faculty_of = folded.faculties(conn)
        wanted = set(chosen)
        return [u for u, f in faculty_of.items() if f in wanted]

    def _waiting(self, conn: Connection, chosen: Sequence[int], now: datetime, *,
                 everything: bool) -> list[tuple[str, int, int]]:
        w = GATE_WAITING.c
        query = (select(w.role, func.count().label("n"),
                        func.sum(case((w.due_at < now, 1), else_=0)).label("late"))
                 .group_by(w.role).order_by(func.count().desc()))
        if not everything:
            query = query.where(w.org_unit_id.in_(self._units(conn, chosen) or [-1]))
        return [(r.role, int(r.n), int(r.late or 0)) for r in conn.execute(query)]

    def _upcoming(self, conn: Connection, where: Filters, chosen: Sequence[int], now: datetime, *,
                  everything: bool) -> list[tuple[str, int, int, int]]:
        t = TIMER.c
        within = [case((t.due_at <= now + timedelta(days=d), 1), else_=0) for d in HORIZONS]
        query = (select(t.timer, *[func.sum(w).label(f"d{d}") for w, d in zip(within, HORIZONS, strict=True)])
                 .where(t.status == "pending", t.action == "fire", t.due_at >= now,
                        t.due_at <= now + timedelta(days=HORIZONS[-1]))
                 .group_by(t.timer).order_by(t.timer))
        if where.definition or not everything:
            query = query.join(CREDENTIAL, CREDENTIAL.c.id == t.credential_id)
            if where.definition:
                query = query.where(CREDENTIAL.c.definition_name == where.definition)
            if not everything:
                query = query.where(CREDENTIAL.c.org_unit_id.in_(self._units(conn, chosen) or [-1]))
        return [(r.timer, int(r.d30 or 0), int(r.d90 or 0), int(r.d365 or 0)) for r in conn.execute(query)]
