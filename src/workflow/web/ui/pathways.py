"""The pathway graph page: which credentials stack into, require or are equivalent to which."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from workflow.services.pathways import WORDS
from workflow.web.deps import ServicesDep
from workflow.web.ui.lifecycle_svg import layouts_of
from workflow.web.ui.pathway_drawing import drawing
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)


@router.get("/pathways")
def pathways(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The credentials you may see that lead into one another, drawn and listed."""
    nodes, links = services.pathways.graph(by=caller)
    titles = {n.id: n for n in nodes}
    return page(request, "pathways.html", caller, {
        "nodes": nodes, "links": links, "titles": titles, "words": WORDS,
        "drawing": drawing(layouts_of(request), nodes, links)}, section="portfolio")
