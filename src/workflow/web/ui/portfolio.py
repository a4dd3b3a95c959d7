"""The portfolio: every credential a project manager can see, filtered, each with its milestone timeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from workflow.services.portfolio import PortfolioFilter
from workflow.web.deps import ServicesDep
from workflow.web.ui.charts import bars
from workflow.web.ui.export import csv_lines
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller
from workflow.web.ui.start import may_start

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


Phase = Annotated[str, Query(max_length=100)]
Unit = Annotated[int | None, Query(ge=1, le=2_000_000_000)]
Overdue = Annotated[str, Query(max_length=3)]
Within = Annotated[int | None, Query(ge=1, le=3650, description="days")]
EXPORT_BATCH = 200


@router.get("/portfolio")
def portfolio(request: Request, caller: PageCaller, services: ServicesDep, phase: Phase = "", unit: Unit = None,
              overdue: Overdue = "", within: Within = None,
              page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Credentials by phase, faculty, lateness and upcoming renewal or expiry."""
    where = PortfolioFilter(phase=phase or None, org_unit_id=unit, overdue=overdue == "yes", due_within_days=within)
    lines, total = services.portfolio.page(by=caller, where=where, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    now = services.clock.now()
    units = {u["id"]: u for u in services.people.units()}
    visible = [u for u in units.values() if caller.sees_everything or u["id"] in caller.visible_units()]
    query = {k: v for k, v in {"phase": phase, "unit": unit or "", "overdue": overdue,
                               "within": within or ""}.items() if v}
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, "portfolio.html", caller, {
        "lines": [(line, bars(line.milestones, now)) for line in lines], "total": total, "units": units,
        "may_start": may_start(services, caller),
        "plans": services.plans.views.for_credentials([line.credential.id for line in lines], by=caller),
        "unit_choices": visible, "phases": services.portfolio.phases(), "phase": phase, "unit": unit,
        "overdue": overdue == "yes", "within": within, "page_no": page_no, "pages": pages,
        "link": lambda n: "/portfolio?" + urlencode({**query, "page": n}),
        "export": "/portfolio.csv" + ("?" + urlencode(query) if query else ""),
    }, section="portfolio")


@router.get("/portfolio.csv")
def portfolio_csv(caller: PageCaller, services: ServicesDep, phase: Phase = "", unit: Unit = None,
                  overdue: Overdue = "", within: Within = None) -> StreamingResponse:
    """The same credentials as a spreadsheet (CSV), every page of them."""
    where = PortfolioFilter(phase=phase or None, org_unit_id=unit, overdue=overdue == "yes", due_within_days=within)
    units = {u["id"]: u["name"] for u in services.people.units()}
    days = services.access.days  # dates in the spreadsheet are the institution's local days

    def rows() -> Iterator[list[Any]]:
        offset = 0
        while True:
            lines, total = services.portfolio.page(by=caller, where=where, limit=EXPORT_BATCH, offset=offset)
            for line in lines:
                c = line.credential
                timer = line.next_timer or {}
                yield [c.id, c.title, units.get(c.org_unit_id, ""), line.state_title, line.phase,
                       days.day_of(c.state_entered_at).isoformat() if c.state_entered_at else "", line.slip_days,
                       str(timer.get("title", "")),
                       days.day_of(timer["due_at"]).isoformat() if timer else ""]
            offset += EXPORT_BATCH
            if not lines or offset >= total:
                return

    header = ["id", "title", "faculty or department", "state", "phase", "in state since", "days late",
              "next dated event", "on"]
    return StreamingResponse(csv_lines(header, rows()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="portfolio.csv"'})
