"""The critical information summary of a credential as a printable page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)


@router.get("/credentials/{credential_id}/summary")
def summary_page(request: Request, credential_id: RowId, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The fifteen items of the critical information summary, laid out to print on one or two pages."""
    summary = services.publication.summary(credential_id, by=caller)
    return page(request, "summary.html", caller, {"s": summary}, section="portfolio")
