"""Evidence: attach files and links to checklist items and proposals (each a new version), list and download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from workflow.errors import InvalidInput
from workflow.services.evidence import Evidence
from workflow.web.api.schemas import Key, RowId
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.documents import file_response
from workflow.web.problems import responses
from workflow.web.uploads import read_upload

router = APIRouter(prefix="/credentials", tags=["evidence"])
UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "PDF, Word, Excel, PowerPoint, an image or plain text; the type is read "
                                           "from the content"}}}}}}}


class LinkIn(BaseModel):
    """A link as evidence."""

    link: str = Field(min_length=1, max_length=2000, description="an http(s) address")


def evidence_json(e: Evidence) -> dict[str, Any]:
    return {"target": e.target, "version": e.version, "filename": e.filename or None, "link": e.link or None,
            "content_type": e.content_type or None, "size": e.size, "sha256": e.sha256 or None, "by": e.actor,
            "at": e.created_at.isoformat(), "event_seq": e.seq}


@router.get("/{credential_id}/evidence", responses=responses(401, 404, 422))
def list_evidence(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """Every version of the credential's evidence, by item then version."""
    return [evidence_json(e) for e in services.evidence.list(credential_id=credential_id, by=caller)]


@router.post("/{credential_id}/evidence/{target}", status_code=status.HTTP_201_CREATED,
             responses=responses(400, 401, 403, 404, 409, 413, 422), openapi_extra=UPLOAD_DOC)
async def upload(credential_id: RowId, target: Key, request: Request, caller: CurrentCaller,
                 services: ServicesDep) -> dict[str, Any]:
    """Attach a file (multipart field ``file``) as the next version of an item's evidence (``proposal`` for the
    credential's proposal); refused over the size limit (413) or when its content is not an allowed type (422)."""
    services.evidence.may_attach(credential_id=credential_id, target=target, by=caller)
    with services.evidence.receive() as incoming:
        sent = await read_upload(request, incoming)
        if not sent.has_file:
            raise InvalidInput("file", "Send the file in a form field named “file”")
        found = services.evidence.attach_file(credential_id=credential_id, target=target, filename=sent.filename,
                                              incoming=incoming, by=caller)
    return evidence_json(found)


@router.post("/{credential_id}/evidence/{target}/links", status_code=status.HTTP_201_CREATED,
             responses=responses(400, 401, 403, 404, 409, 422))
def attach_link(credential_id: RowId, target: Key, body: LinkIn, caller: CurrentCaller,
                services: ServicesDep) -> dict[str, Any]:
    """Attach a link as the next version of an item's evidence."""
    return evidence_json(services.evidence.attach_link(credential_id=credential_id, target=target, link=body.link,
                                                       by=caller))


@router.get("/{credential_id}/evidence/{target}/versions/{version}", response_class=StreamingResponse,
            responses=responses(401, 404, 409, 422))
def download(credential_id: RowId, target: Key, version: RowId, caller: CurrentCaller,
             services: ServicesDep) -> StreamingResponse:
    """One version's file, as an attachment (``X-Content-Type-Options: nosniff``)."""
    found, stream = services.evidence.open(credential_id=credential_id, target=target, version=version, by=caller)
    return file_response(found, stream)


@router.delete("/{credential_id}/evidence", responses=responses(401, 404, 409, 422))
def delete_evidence(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> None:
    """Refused (409) while the credential's history must be kept: every version is part of it."""
    services.evidence.delete(credential_id=credential_id, by=caller)
