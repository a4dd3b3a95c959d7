"""Plans on the pages: the forms of a credential's plan (target or intake, a phase moved with a reason,
re-baselining), its export as CSV and iCalendar, and the portfolio timeline (a Gantt chart and the same data as a
table, by faculty and intake, a page at a time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from workflow.errors import InvalidInput, WorkflowError
from workflow.notify.calendar import CalendarEntry, calendar
from workflow.services.plan_views import PlanView, TimelineFilter
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.credential import credential_page
from workflow.web.ui.export import csv_lines
from workflow.web.ui.gantt import draw
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
EXPORT_BATCH = 100

Reason = Annotated[str, Form(max_length=4000)]
Version = Annotated[int | None, Form(ge=1, le=2_000_000_000)]
DayText = Annotated[str, Form(max_length=30)]
Unit = Annotated[int | None, Query(ge=1, le=2_000_000_000)]
Intake = Annotated[str, Query(max_length=100)]


def _day(text: str, field: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"'{text}' is not a date: give it as YYYY-MM-DD") from None


def _refused(request: Request, services: ServicesDep, caller: PageCaller, credential_id: int, error: WorkflowError,
             form: dict[str, str]) -> HTMLResponse:
    """The credential page again, the refusal beside the field it is about and what was typed kept."""
    if not isinstance(error, InvalidInput):
        return credential_page(request, services, caller, credential_id, error=str(error),
                               status_code=status_of(error))
    message = error.message[:1].upper() + error.message[1:].rstrip(".") + "."
    return credential_page(request, services, caller, credential_id, status_code=status_of(error),
                           form={**form, "plan_field": error.field, "plan_error": message})


def _done(credential_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/credentials/{credential_id}?done={what}#plan", status_code=303)


@router.post("/credentials/{credential_id}/plan/target")
def set_target(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
               target: DayText = "", intake: Annotated[str, Form(max_length=100)] = "", reason: Reason = "",
               version: Version = None) -> Response:
    """Set the target launch date, or choose an intake."""
    form = {"plan": "target", "target": target, "intake": intake, "reason": reason}
    try:
        services.plans.set_target(credential_id=credential_id, target=_day(target, "target"), intake=intake,
                                  reason=reason, by=caller, expected_version=version)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, form)
    return _done(credential_id, "plan_target")


@router.post("/credentials/{credential_id}/plan/phase")
def move_phase(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
               state: Annotated[str, Form(max_length=100)], on: DayText = "", reason: Reason = "",
               version: Version = None) -> Response:
    """Move one phase's planned end, with a reason."""
    form = {"plan": "phase", "state": state, "on": on, "reason": reason}
    try:
        day = _day(on, "on")
        if day is None:
            raise InvalidInput("on", "give the new date")
        services.plans.move_phase(credential_id=credential_id, state=state, on=day, reason=reason, by=caller,
                                  expected_version=version)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, form)
    return _done(credential_id, "plan_phase")


@router.post("/credentials/{credential_id}/plan/baseline")
def rebaseline(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
               reason: Reason = "", version: Version = None) -> Response:
    """Make the plan as it stands the new baseline, with a reason."""
    try:
        services.plans.rebaseline(credential_id=credential_id, reason=reason, by=caller, expected_version=version)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, {"plan": "baseline", "reason": reason})
    return _done(credential_id, "plan_baseline")


def _phase_rows(view: PlanView) -> Iterator[list[Any]]:
    for p in view.phases:
        yield [view.credential_id, view.title, p.title, p.baseline, p.planned, p.started, p.ended, p.forecast,
               "history" if p.basis == "history" else "plan", view.target, view.intake]


PLAN_HEADER = ["id", "credential", "phase", "baseline end", "planned end", "started", "ended", "forecast end",
               "forecast from", "target launch", "intake"]


@router.get("/credentials/{credential_id}/plan.csv")
def plan_csv(credential_id: RowId, caller: PageCaller, services: ServicesDep) -> StreamingResponse:
    """The credential's plan as a spreadsheet (CSV): each phase's baseline, plan, actual and forecast."""
    view = services.plans.views.get(credential_id, by=caller)
    return StreamingResponse(csv_lines(PLAN_HEADER, _phase_rows(view)), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="plan-{credential_id}.csv"'})


def plan_entries(view: PlanView, link: str, domain: str) -> list[CalendarEntry]:
    """A plan's dates as calendar entries: each phase's planned end and the expected launch."""
    entries = [CalendarEntry(f"plan-{view.credential_id}-{p.state}@{domain}",
                             f"{'Launch' if p is view.phases[-1] else p.title + ' planned to end'} — {view.title}",
                             p.planned, url=link) for p in view.phases if p.planned is not None]
    if view.forecast.launch is not None and not view.forecast.launched:
        entries.append(CalendarEntry(f"plan-forecast-{view.credential_id}@{domain}",
                                     f"Expected launch (forecast) — {view.title}", view.forecast.launch, url=link))
    return entries


@router.get("/credentials/{credential_id}/plan.ics")
def plan_ics(credential_id: RowId, caller: PageCaller, services: ServicesDep) -> Response:
    """The credential's plan as iCalendar: each phase's planned end, the launch and the forecast."""
    view = services.plans.views.get(credential_id, by=caller)
    body = calendar(plan_entries(view, services.credentials_link(credential_id), services.settings.mail_domain),
                    stamp=services.clock.now(), name=f"Plan — {view.title}")
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="plan-{credential_id}.ics"'})


@router.get("/timeline")
def timeline(request: Request, caller: PageCaller, services: ServicesDep, unit: Unit = None, intake: Intake = "",
             page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    """The portfolio timeline: planned, actual and forecast per phase, the targets and today, by faculty and
    intake."""
    views, total = services.plans.views.timeline(by=caller, where=TimelineFilter(unit, intake or None),
                                                 limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    units = {u["id"]: u for u in services.people.units()}
    visible = [u for u in units.values() if caller.sees_everything or u["id"] in caller.visible_units()]
    query = {k: v for k, v in {"unit": unit or "", "intake": intake}.items() if v}
    pages = max(1, -(-total // PAGE_SIZE))
    today = services.plans.views.days.day_of(services.clock.now())
    return page(request, "timeline.html", caller, {
        "views": views, "gantt": draw(views, today) if views else None, "total": total, "units": units,
        "unit_choices": visible, "intakes": services.plans.views.intakes(), "unit": unit, "intake": intake,
        "page_no": page_no, "pages": pages, "today": today,
        "link": lambda n: "/timeline?" + urlencode({**query, "page": n}),
        "export": "/timeline.csv" + ("?" + urlencode(query) if query else ""),
    }, section="timeline")


@router.get("/timeline.csv")
def timeline_csv(caller: PageCaller, services: ServicesDep, unit: Unit = None,
                 intake: Intake = "") -> StreamingResponse:
    """The timeline's plans as a spreadsheet (CSV), a line per credential and phase, every page of them."""
    where = TimelineFilter(unit, intake or None)

    def rows() -> Iterator[list[Any]]:
        offset = 0
        while True:
            views, total = services.plans.views.timeline(by=caller, where=where, limit=EXPORT_BATCH, offset=offset)
            for view in views:
                yield from _phase_rows(view)
            offset += EXPORT_BATCH
            if not views or offset >= total:
                return

    return StreamingResponse(csv_lines(PLAN_HEADER, rows()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="timeline.csv"'})
