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

from sqlalchemy import BigInteger, Connection, and_, case, cast, func, literal, or_, select

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


@dataclass(frozen=True)
class Ranked:
    """A histogram summarised in SQL: its total, the days at the ranks the median and the 90th percentile need,
    and how many were within plan."""

    total: int
    at: dict[int, int]  # rank → the days bucket holding it
    timely: int

    def spread(self, label: str, planned: int | None = None) -> Spread:
        """The spread (see :func:`spread`)."""
        t = self.total
        if not t:
            return Spread(label, 0, None, None, planned, 0 if planned else None)
        median = float(self.at[(t + 1) // 2]) if t % 2 else (self.at[t // 2] + self.at[t // 2 + 1]) / 2
        return Spread(label, t, median, self.at[math.ceil(0.9 * t)], planned, self.timely if planned else None)


def _phase_case(phase_of: dict[tuple[str, str], str]) -> Any:
    """The phase of an ``analytics_count`` row's state, in SQL (its key when no definition names it)."""
    c = ANALYTICS_COUNT.c
    whens = [(and_(c.definition_name == name, c.key == sid), phase) for (name, sid), phase in phase_of.items()]
    return case(*whens, else_=c.key) if whens else c.key


def _timely_case(planned: dict[tuple[str, str], int]) -> Any:
    """1 for a row of days within its state's plan (a bucket wholly within it), else 0."""
    c = ANALYTICS_COUNT.c
    whens = []
    for (name, sid), days in planned.items():
        last_start = max(b for b in range(days + 1) if folded.bucket_last(folded.bucket(b)) <= days)
        whens.append((and_(c.definition_name == name, c.key == sid, c.days <= folded.bucket(last_start)), 1))
    return case(*whens, else_=0) if whens else literal(0)


def _ranked(conn: Connection, groups: list[Any], where: Any, timely: Any) -> dict[tuple[Any, ...], Ranked]:
    """Each group's total and the days at ranks ⌊t/2⌋, ⌊t/2⌋+1 and ⌈0.9 t⌉ (cumulative sums in SQL: only the rows
    holding those ranks come back, however many credentials were counted)."""
    c = ANALYTICS_COUNT.c
    h = (select(*groups, c.days, func.sum(c.count).label("n"),
                func.sum(c.count * (timely if timely is not None else literal(0))).label("timely_n"))
         .where(where).group_by(*[g.element if hasattr(g, "element") else g for g in groups], c.days).subquery())
    keys = [h.c[g.name] for g in groups]
    upto = cast(func.sum(h.c.n).over(partition_by=keys, order_by=h.c.days, rows=(None, 0)), BigInteger)
    total = cast(func.sum(h.c.n).over(partition_by=keys), BigInteger)
    timely_total = cast(func.sum(h.c.timely_n).over(partition_by=keys), BigInteger)
    w = select(*keys, h.c.days, cast(h.c.n, BigInteger).label("n"), upto.label("upto"), total.label("total"),
               timely_total.label("timely")).subquery()
    ranks = (w.c.total // 2, w.c.total // 2 + 1, (w.c.total * 9 + 9) // 10)
    wanted = or_(*[and_(w.c.upto - w.c.n < r, w.c.upto >= r) for r in ranks])
    found: dict[tuple[Any, ...], Ranked] = {}
    width = len(groups)
    for row in conn.execute(select(w).where(wanted)):
        days, n, through, count, timely_n = (int(v or 0) for v in row[width:])
        ranked = found.setdefault(tuple(row[:width]), Ranked(count, {}, timely_n))
        for r in (count // 2, count // 2 + 1, (count * 9 + 9) // 10):
            if through - n < r <= through:
                ranked.at[r] = days
    return found


class AnalyticsService:
    """Reads only (after bringing the folded counts up to date): the figures, for what the caller may see."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, days: LocalDays, clock: Clock,
                 settle: timedelta = SETTLE) -> None:
        self._db = database
        self._definitions = definitions
        self._days = days
        self._clock = clock
        self._settle = settle

    @property
    def settle(self) -> timedelta:
        """How old an event must be to be folded (younger ones may still be committing)."""
        return self._settle

    def fold(self, most: int | None = None) -> int:
        """Fold the events written since the last time (at most ``most``); returns how many were read."""
        return folded.fold(self._db, now=self._clock.now(), settle=self._settle, day_of=self._days.day_of,
                           most=most)

    def refold(self) -> int:
        """Drop the counts and fold every history again; returns how many events were read."""
        return folded.refold(self._db, now=self._clock.now(), settle=self._settle, day_of=self._days.day_of)

    def faculties(self, by: Caller) -> list[tuple[int, str]]:
        """The faculties whose figures ``by`` may see, by name."""
        with self._db.begin_read() as conn:
            return self._faculties(conn, by)

    def figures(self, *, by: Caller, where: Filters) -> Figures:
        """Every figure of the page, for the faculties ``by`` may see (after folding the tail of events written
        since the last fold; a longer backlog is left to the scheduler and the command line, and the figures say
        how far they are folded)."""
        self.fold(most=folded.REQUEST_EVENTS)
        now = self._clock.now()
        definitions = self._definitions_for(where)
        phase_of: dict[tuple[str, str], str] = {}
        planned: dict[tuple[str, str], int] = {}
        phases: list[str] = []
        titles: dict[tuple[str, str], str] = {}
        for name, definition in definitions.items():
            for sid, state in definition.states.items():
                phase = state.phase or state.title
                phase_of[(name, sid)] = phase
                if state.planned_days:
                    planned[(name, sid)] = state.planned_days
                if phase not in phases:
                    phases.append(phase)
            titles.update({("gate", key): gate_title(definition, key) for key in definition.gates})
            for key in definition.roles:
                titles[("decision", key)] = titles[("item", key)] = role_title(definition, key)
        with self._db.begin_read() as conn:
            allowed = self._faculties(conn, by)
            names = dict(allowed)
            chosen = [f for f in ([where.faculty_id] if where.faculty_id is not None else list(names)) if f in names]
            everything = by.sees_everything and where.faculty_id is None
            base = self._base(where, chosen, everything=everything, definitions=list(definitions))
            phase = _phase_case(phase_of)
            c = ANALYTICS_COUNT.c
            flows = conn.execute(select(phase.label("phase"), c.kind, func.sum(c.count).label("n"))
                                 .where(base, or_(c.kind == "entered", and_(c.kind == "stay",
                                                                            c.period == folded.ALL_YEARS)))
                                 .group_by(phase, c.kind)).all()
            month_filter = [c.period >= f"{where.year}-01", c.period <= f"{where.year}-12"] if where.year else []
            months = conn.execute(select(c.period, phase.label("phase"), func.sum(c.count).label("n"))
                                  .where(base, c.kind == "entered", *month_filter)
                                  .group_by(c.period, phase).order_by(c.period)).all()
            year_filter = [c.period == (str(where.year) if where.year else folded.ALL_YEARS)]
            timely = _timely_case(planned)
            by_phase = _ranked(conn, [phase.label("g")], and_(base, c.kind == "stay", *year_filter), timely)
            by_key = _ranked(conn, [c.kind.label("kind"), c.key.label("g")],
                             and_(base, c.kind.in_(("gate", "decision", "item")), *year_filter), None)
            each = self._base(where, chosen, everything=False, definitions=list(definitions),
                              every_faculty=everything)
            per_faculty = _ranked(conn, [c.faculty_id.label("faculty"), phase.label("g")],
                                  and_(each, c.kind == "stay", *year_filter), None)
            mark = conn.execute(select(ANALYTICS_MARK.c.folded_at).where(ANALYTICS_MARK.c.id == 1)).scalar()
            waiting = self._waiting(conn, chosen, now, everything=everything)
            upcoming = self._upcoming(conn, where, chosen, now, everything=everything)
        entered = {r.phase: int(r.n) for r in flows if r.kind == "entered"}
        left = {r.phase: int(r.n) for r in flows if r.kind == "stay"}
        by_month: dict[str, dict[str, int]] = defaultdict(dict)
        for r in months:
            by_month[r.period][r.phase] = int(r.n)
        plan_of_phase: dict[str, int] = {}
        for (name, sid), days in planned.items():
            plan_of_phase[phase_of[(name, sid)]] = max(days, plan_of_phase.get(phase_of[(name, sid)], 0))
        phase_times = []
        ended = on_time_total = 0
        for name in phases:
            found = by_phase.get((name,))
            if found is None:
                continue
            s = found.spread(name, plan_of_phase.get(name))
            if s.planned:
                ended += s.count
                on_time_total += s.on_time or 0
            phase_times.append(s)

        def keyed(kind: str) -> tuple[Spread, ...]:
            found = [r.spread(titles.get((kind, key), key)) for (k, key), r in by_key.items() if k == kind]
            return tuple(sorted(found, key=lambda s: s.label))

        faculty_medians: dict[int, dict[str, float | None]] = defaultdict(dict)
        for (faculty, name), ranked in per_faculty.items():
            faculty_medians[int(faculty)][str(name)] = ranked.spread(str(name)).median
        role_of = {key: title for (kind, key), title in titles.items() if kind == "decision"}
        return Figures(
            filters=where, folded_through=mark, phases=tuple(phases),
            now_in_phase=tuple((p, entered.get(p, 0) - left.get(p, 0)) for p in phases
                               if entered.get(p, 0) - left.get(p, 0) > 0),
            entries=tuple((m, by_month[m]) for m in sorted(by_month)),
            phase_times=tuple(phase_times),
            gate_times=keyed("gate"), decision_waits=keyed("decision"), item_waits=keyed("item"),
            waiting_now=tuple((role_of.get(role, role), n, late) for role, n, late in waiting),
            by_faculty=tuple((names.get(f, "No faculty"), medians)
                             for f, medians in sorted(faculty_medians.items(), key=lambda i: names.get(i[0], ""))),
            upcoming=tuple((timer_title(self._timer_definition(t), t), a, b, c) for t, a, b, c in upcoming),
            on_time=Spread("Every planned phase", ended, None, None, None, on_time_total) if ended else None,
            faculties=tuple(allowed),
        )

    def _base(self, where: Filters, chosen: Sequence[int], *, everything: bool, definitions: list[str],
              every_faculty: bool = False) -> Any:
        """The counts to read: of every faculty together (``everything``), of each faculty (``every_faculty``),
        or of the ``chosen`` faculties."""
        c = ANALYTICS_COUNT.c
        conditions: list[Any] = [c.definition_name.in_(definitions or ["-"])]
        if everything:
            conditions.append(c.faculty_id == folded.ALL_FACULTIES)
        elif every_faculty:
            conditions.append(c.faculty_id != folded.ALL_FACULTIES)
        else:
            conditions.append(c.faculty_id.in_([f for f in chosen if f != folded.ALL_FACULTIES] or [-2]))
        return and_(*conditions)

    def _definitions_for(self, where: Filters) -> dict[str, Definition]:
        known = self._definitions.names()
        names = [where.definition] if where.definition else known
        return {n: self._definitions.engine(n).definition for n in names if n in known}

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
        if where.definition or not everything:  # the credentials first (on their index), then their timers
            credentials = select(CREDENTIAL.c.id)
            if where.definition:
                credentials = credentials.where(CREDENTIAL.c.definition_name == where.definition)
            if not everything:
                credentials = credentials.where(CREDENTIAL.c.org_unit_id.in_(self._units(conn, chosen) or [-1]))
            query = query.where(t.credential_id.in_(credentials))
        return [(r.timer, int(r.d30 or 0), int(r.d90 or 0), int(r.d365 or 0)) for r in conn.execute(query)]
