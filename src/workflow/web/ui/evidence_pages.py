"""The evidence page of one checklist item (or of the proposal): every version with who, when, size, type and
SHA-256, a preview of PDFs and images, downloads, and forms to attach a new file or a link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from workflow.definitions.words import item_title, role_title
from workflow.engine.requirements import PROPOSAL
from workflow.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound, TooLarge, WorkflowError
from workflow.services.access import Caller
from workflow.services.evidence import targets
from workflow.services.filetypes import ALLOWED_WORDS
from workflow.web.api.schemas import RowId
from workflow.web.deps import SESSION_COOKIE, ServicesDep
from workflow.web.documents import file_response
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import CSRF_FIELD, PageCaller
from workflow.web.uploads import read_upload

router = APIRouter(include_in_schema=False)


def evidence_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, target: str, *,
                  errors: dict[str, str] | None = None, link: str = "", status_code: int = 200) -> HTMLResponse:
    """The item's evidence; ``errors`` (by field) and ``link`` re-show a refused form."""
    detail = services.views.get(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    owners = targets(definition)
    if target not in owners:
        raise NotFound("checklist item", target)
    versions = [e for e in services.evidence.list(credential_id=credential_id, by=caller) if e.target == target]
    try:
        services.evidence.may_attach(credential_id=credential_id, target=target, by=caller)
        may_attach = True
    except Forbidden:
        may_attach = False
    names = services.access.names_of({e.actor for e in versions})
    return page(request, "evidence.html", caller, {
        "c": detail, "target": target, "versions": list(reversed(versions)), "names": names,
        "title": "Proposal" if target == PROPOSAL else item_title(definition, target),
        "owner": role_title(definition, owners[target]) if owners[target] else "",
        "may_attach": may_attach, "errors": errors or {}, "link": link, "allowed": ALLOWED_WORDS,
        "limit_mb": services.evidence.max_bytes / 1_048_576}, status_code=status_code, section="portfolio")


@router.get("/credentials/{credential_id}/evidence/{target}")
def show(credential_id: RowId, target: str, request: Request, caller: PageCaller,
         services: ServicesDep) -> HTMLResponse:
    """Every version of one item's evidence, and the forms to add one."""
    return evidence_page(request, services, caller, credential_id, target[:100])


@router.post("/credentials/{credential_id}/evidence/{target}")
async def upload(credential_id: RowId, target: str, request: Request, services: ServicesDep) -> Response:
    """Attach a file (streamed, never held whole in memory); a refusal shows the page again with the reason."""
    target = target[:100]
    cookie = request.cookies.get(SESSION_COOKIE)
    session = services.auth.session(cookie) if cookie else None
    if session is None:
        raise NotAuthenticated("sign in to attach evidence")
    caller = services.access.caller(session.user_id)
    request.state.csrf_token = session.csrf_token
    services.evidence.may_attach(credential_id=credential_id, target=target, by=caller)
    try:
        with services.evidence.receive() as incoming:
            sent = await read_upload(request, incoming)
            if not services.auth.csrf_matches(session.csrf_token, sent.fields.get(CSRF_FIELD, "")):
                raise Forbidden("this form has expired or did not come from this site; reload the page and try again")
            if not sent.has_file or not sent.filename:
                raise InvalidInput("file", "Choose a file to attach")
            services.evidence.attach_file(credential_id=credential_id, target=target, filename=sent.filename,
                                          incoming=incoming, by=caller)
    except (InvalidInput, TooLarge) as refused:
        message = refused.message if isinstance(refused, InvalidInput) else str(refused)
        return evidence_page(request, services, caller, credential_id, target, errors={"file": message},
                             status_code=status_of(refused))
    return RedirectResponse(f"/credentials/{credential_id}/evidence/{target}?done=attached", status_code=303)


@router.post("/credentials/{credential_id}/evidence/{target}/links")
def attach_link(credential_id: RowId, target: str, request: Request, caller: PageCaller, services: ServicesDep,
                link: Annotated[str, Form(max_length=4000)] = "") -> Response:
    """Attach a link as the next version."""
    target = target[:100]
    try:
        services.evidence.attach_link(credential_id=credential_id, target=target, link=link, by=caller)
    except InvalidInput as refused:
        return evidence_page(request, services, caller, credential_id, target, errors={"link": refused.message},
                             link=link, status_code=422)
    except WorkflowError:
        raise
    return RedirectResponse(f"/credentials/{credential_id}/evidence/{target}?done=attached", status_code=303)


@router.get("/credentials/{credential_id}/evidence/{target}/{version}/download")
def download(credential_id: RowId, target: str, version: RowId, caller: PageCaller,
             services: ServicesDep) -> StreamingResponse:
    """One version's file, as an attachment."""
    found, stream = services.evidence.open(credential_id=credential_id, target=target[:100], version=version,
                                           by=caller)
    return file_response(found, stream)


@router.get("/credentials/{credential_id}/evidence/{target}/{version}/preview")
def preview(credential_id: RowId, target: str, version: RowId, caller: PageCaller,
            services: ServicesDep) -> StreamingResponse:
    """A PDF or an image shown by the browser itself; anything else comes as an attachment."""
    found, stream = services.evidence.open(credential_id=credential_id, target=target[:100], version=version,
                                           by=caller)
    return file_response(found, stream, inline=True)
