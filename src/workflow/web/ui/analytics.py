"""The analytics page: the portfolio's figures as charts, each with its table, filtered by faculty, definition
and year; the same figures as a spreadsheet (CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from workflow.errors import InvalidInput
from workflow.services.access import Caller
from workflow.services.analytics import Figures, Filters, Spread
from workflow.web.deps import ServicesDep
from workflow.web.ui.analytics_charts import BarRow, columns, hbars
from workflow.web.ui.export import csv_lines
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)

Faculty = Annotated[str, Query(max_length=12, description="a faculty's org unit id; empty: every faculty")]
DefinitionName = Annotated[str, Query(max_length=100)]
Year = Annotated[str, Query(max_length=4, description="the year stays ended in; empty: every year")]


def _number(name: str, text: str, low: int, high: int) -> int | None:
    """An optional whole number from a form's select (empty: none).

    Raises:
        InvalidInput: naming the field, for anything else.
    """
    if not text.strip():
        return None
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise InvalidInput(name, f"must be a number from {low} to {high}, or empty")
    return int(text)


def filters_of(services: ServicesDep, faculty: str, definition: str, year: str) -> Filters:
    """The filters asked for (an unknown definition is no filter at all; nothing is shown that does not exist)."""
    known = services.definitions.names()
    return Filters(definition=definition if definition in known else None,
                   faculty_id=_number("faculty", faculty, 1, 2_000_000_000), year=_number("year", year, 1900, 2200))


def days(value: float | None) -> str:
    """A number of days in words."""
    if value is None:
        return "—"
    shown = f"{value:g}"
    return f"{shown} day{'s' if value != 1 else ''}"


def spread_rows(spreads: tuple[Spread, ...]) -> list[BarRow]:
    """Bars of median days, each with its 90th percentile as a marker."""
    return [BarRow(s.label, s.median or 0, f"{days(s.median)} (90%: {days(s.p90)})", s.p90) for s in spreads
            if s.count]


def charts(figures: Figures) -> dict[str, Any]:
    """Every chart of the page, by name (``None`` where there is nothing to draw)."""
    on_time = [s for s in figures.phase_times if s.on_time_rate is not None]
    return {
        "now": hbars("chart-now", "Credentials in each phase now: " + ", ".join(
            f"{p} {n}" for p, n in figures.now_in_phase) + ".",
            [BarRow(p, n, str(n)) for p, n in figures.now_in_phase]),
        "entries": columns("chart-entries", "Credentials entering each phase, by month; the table below lists "
                           "every figure.", figures.entries,
                           [p for p in figures.phases if any(p in c for _, c in figures.entries)]),
        "phases": hbars("chart-phases", "Median days in each phase, with the 90th percentile marked; the table "
                        "below lists every figure.", spread_rows(figures.phase_times),
                        marker_name="90th percentile"),
        "on_time": hbars("chart-on-time", "Share of phases ended within their planned days: " + ", ".join(
            f"{s.label} {round((s.on_time_rate or 0) * 100)}%" for s in on_time) + ".",
            [BarRow(s.label, round((s.on_time_rate or 0) * 100), f"{round((s.on_time_rate or 0) * 100)}% "
                    f"({s.on_time} of {s.count})") for s in on_time]),
        "gates": hbars("chart-gates", "Median days from a gate opening to its move, with the 90th percentile "
                       "marked; the table below lists every figure.", spread_rows(figures.gate_times),
                       marker_name="90th percentile"),
        "decisions": hbars("chart-decisions", "Median days until each role decided, with the 90th percentile "
                           "marked; the table below lists every figure.", spread_rows(figures.decision_waits),
                           marker_name="90th percentile"),
        "checklist": hbars("chart-items", "Median days until each role's checklist items were done, with the 90th "
                       "percentile marked; the table below lists every figure.", spread_rows(figures.item_waits),
                       marker_name="90th percentile"),
        "upcoming": hbars("chart-upcoming", "Renewals and expiries within 365 days: " + ", ".join(
            f"{t} {c}" for t, _, _, c in figures.upcoming) + ".",
            [BarRow(t, c, f"{c} ({a} within 30 days, {b} within 90)") for t, a, b, c in figures.upcoming]),
    }


@router.get("/analytics")
def analytics(request: Request, caller: PageCaller, services: ServicesDep, faculty: Faculty = "",
              definition: DefinitionName = "", year: Year = "") -> HTMLResponse:
    """Where proposals stall and for how long, how many phases end on time, what renews or expires next."""
    where = filters_of(services, faculty, definition, year)
    figures = services.analytics.figures(by=caller, where=where)
    query = {k: v for k, v in {"faculty": where.faculty_id or "", "definition": where.definition or "",
                               "year": where.year or ""}.items() if v}
    this_year = services.access.days.day_of(services.clock.now()).year
    return page(request, "analytics.html", caller, {
        "f": figures, "charts": charts(figures), "days": days, "where": where,
        "entry_phases": [p for p in figures.phases if any(p in counts for _, counts in figures.entries)],
        "definitions": [(n, services.definitions.engine(n).definition.title) for n in services.definitions.names()],
        "years": list(range(this_year, this_year - 6, -1)),
        "export": "/analytics.csv" + ("?" + urlencode(query) if query else ""),
        "api": "/api/v1/analytics" + ("?" + urlencode(query) if query else ""),
    }, section="portfolio")


def csv_rows(figures: Figures) -> Iterator[list[Any]]:
    """Every figure as (figure, label, count, median days, 90th percentile days, planned days, on time)."""
    for phase, n in figures.now_in_phase:
        yield ["in the phase now", phase, n, "", "", "", ""]
    for month, counts in figures.entries:
        for phase, n in counts.items():
            yield [f"entered in {month}", phase, n, "", "", "", ""]
    for name, spreads in (("days in phase", figures.phase_times), ("days to a gate's move", figures.gate_times),
                          ("days until decided, by role", figures.decision_waits),
                          ("days until checklist items done, by role", figures.item_waits)):
        for s in spreads:
            yield [name, s.label, s.count, s.median, s.p90, s.planned or "", "" if s.on_time is None else s.on_time]
    for faculty, medians in figures.by_faculty:
        for phase, median in medians.items():
            yield [f"median days in phase, {faculty}", phase, "", median, "", "", ""]
    for role, n, late in figures.waiting_now:
        yield ["decisions waiting now (overdue in the last column)", role, n, "", "", "", late]
    for timer, a, b, c in figures.upcoming:
        yield ["coming within 30 / 90 / 365 days", timer, c, "", "", "", f"{a} / {b} / {c}"]


@router.get("/analytics.csv")
def analytics_csv(caller: PageCaller, services: ServicesDep, faculty: Faculty = "", definition: DefinitionName = "",
                  year: Year = "") -> Response:
    """The same figures as a spreadsheet (CSV)."""
    figures = services.analytics.figures(by=caller, where=filters_of(services, faculty, definition, year))
    header = ["figure", "of", "count", "median days", "90th percentile days", "planned days", "on time"]
    # A few hundred lines at most: one body rather than a stream (a stream hands each line to a thread).
    return Response("".join(csv_lines(header, csv_rows(figures))), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="analytics.csv"'})


def for_api(caller: Caller, services: ServicesDep, faculty: str, definition: str, year: str) -> dict[str, Any]:
    """The figures as the API answers them."""
    return services.analytics.figures(by=caller, where=filters_of(services, faculty, definition, year)).as_json()
