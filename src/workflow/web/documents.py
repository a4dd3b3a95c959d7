"""Sending a stored evidence file: always as an attachment with ``X-Content-Type-Options: nosniff`` under its
sniffed type, except a preview, which only a PDF or an image gets inline (HTML and SVG are never allowed in). The
site's strict Content-Security-Policy (:mod:`workflow.web.security`) covers these responses too; the browser's own
PDF viewer still shows a preview under it."""

from __future__ import annotations

from typing import BinaryIO
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from workflow.services.evidence import Evidence
from workflow.store.documents import chunks


def file_response(found: Evidence, stream: BinaryIO, *, inline: bool = False) -> StreamingResponse:
    """The file as a download (``inline`` only when the file may be previewed)."""

    def body() -> object:
        with stream:
            yield from chunks(stream)

    disposition = "inline" if inline and found.previewable else "attachment"
    ascii_name = found.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    headers = {"Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; "
                                      f"filename*=UTF-8''{quote(found.filename)}",
               "X-Content-Type-Options": "nosniff", "Content-Length": str(found.size),
               "Cache-Control": "private, no-store", "X-Evidence-SHA256": found.sha256}
    return StreamingResponse(body(), media_type=found.content_type or "application/octet-stream",  # type: ignore[arg-type]
                             headers=headers)
