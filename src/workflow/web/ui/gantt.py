"""The portfolio timeline drawn as a Gantt chart (inline SVG, drawn on the server): per credential and phase the
planned span, what really happened and the forecast, the target launch, the baseline launch and today."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.services.plan_views import PlanView

LABEL = 250.0  # the credential titles' column, in the drawing's units
CHART = 950.0  # the time axis
ROW = 40.0
TOP = 28.0  # the month labels
TITLE_CHARS = 34


@dataclass(frozen=True)
class Span:
    """One bar: where it starts and how wide, and what it says to a screen reader's hover."""

    kind: str  # planned, actual, late, forecast
    x: float
    w: float
    y: float
    h: float
    label: str


@dataclass(frozen=True)
class Line:
    """One credential's row."""

    credential_id: int
    title: str
    full_title: str
    y: float
    spans: tuple[Span, ...]
    target_x: float | None
    baseline_x: float | None


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Gantt:
    """Everything the template draws."""

    width: float
    height: float
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    today_x: float | None
    label_width: float = LABEL


def _spans(view: PlanView) -> list[tuple[str, date, date, str]]:
    """(kind, start, end, what) of each bar of one credential, phase by phase."""
    found: list[tuple[str, date, date, str]] = []
    previous_planned: date | None = None
    previous_forecast: date | None = None
    for phase in view.phases:
        if phase.planned is not None:
            start = previous_planned or phase.planned - timedelta(days=1)
            if phase.planned >= start:
                found.append(("planned", start, phase.planned, f"{phase.title}: planned {start} to {phase.planned}"))
            previous_planned = phase.planned
        if phase.started is not None:
            end = phase.ended or view.today
            late = phase.planned is not None and end > phase.planned
            found.append(("late" if late else "actual", phase.started, end,
                          f"{phase.title}: {phase.started} to {phase.ended or 'today'}"
                          + (" (after its planned end)" if late else "")))
        if phase.forecast is not None:
            start = view.today if phase.current else (previous_forecast or view.today)
            if phase.forecast > start:
                found.append(("forecast", start, phase.forecast, f"{phase.title}: expected to end {phase.forecast}"))
            previous_forecast = phase.forecast
    return found


def draw(views: Sequence[PlanView], today: date) -> Gantt:
    """Lay out one page of the timeline on a common time scale, a month tick at each first of the month."""
    rows = [(view, _spans(view)) for view in views]
    days = [today] + [d for _, spans in rows for s in spans for d in (s[1], s[2])]
    days += [v.target for v in views if v.target is not None]
    days += [v.baseline_launch for v in views if v.baseline_launch is not None]
    first, last = min(days), max(days) + timedelta(days=7)
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        return round(LABEL + (day - first).days / span * CHART, 1)

    lines = []
    for position, (view, spans) in enumerate(rows):
        y = TOP + position * ROW
        bars = []
        for kind, start, end, what in spans:
            lane = {"planned": 5.0, "actual": 15.0, "late": 15.0, "forecast": 25.0}[kind]
            bars.append(Span(kind, x(start), max(x(end) - x(start), 2.0), y + lane, 9.0, what))
        title = view.title if len(view.title) <= TITLE_CHARS else view.title[:TITLE_CHARS - 1] + "…"
        lines.append(Line(view.credential_id, title, view.title, y, tuple(bars),
                          x(view.target) if view.target else None,
                          x(view.baseline_launch) if view.baseline_launch else None))
    ticks = []
    month = date(first.year, first.month, 1)
    step = max(1, round(span / 30 / 12))  # about a dozen labels, whatever the range
    count = 0
    while month <= last:
        if month >= first and count % step == 0:
            ticks.append(Tick(x(month), month.strftime("%b %Y")))
        count += 1
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return Gantt(LABEL + CHART + 50, TOP + len(rows) * ROW + 6, tuple(lines), tuple(ticks), x(today))
