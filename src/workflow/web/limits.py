"""A ceiling on request bodies: anything larger is answered 413 before it is read into memory.

A declared ``Content-Length`` over the limit is refused at once, without running the route; a body sent without
one (chunked) is counted as the route reads it and refused at the first chunk past the limit, and the rest is
never read. Uploads of evidence (the paths given as ``wider``) have a limit of their own. The refusal goes
through the app's own handler of HTTP errors, so an API client gets
``application/problem+json`` and a browser asking for a page gets the error page.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.web.problems import problem


class BodyTooLarge(HTTPException):
    """A request body over the limit (HTTP 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body too large (the limit is {max_bytes} bytes)")


class BodyLimit:
    """ASGI middleware refusing request bodies of more than ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, wider: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = [(re.compile(pattern), limit) for pattern, limit in (wider or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for pattern, n in self.wider if scope["method"] == "POST" and pattern.fullmatch(scope["path"])),
                     self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = await _refusal(scope, BodyTooLarge(limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None  # a malformed one is the server's to refuse
    return None


async def _refusal(scope: Scope, error: HTTPException) -> Response:
    """The response the app's handler of HTTP errors gives (problem+json here if the app has none)."""
    handler = getattr(scope.get("app"), "exception_handlers", {}).get(HTTPException)
    if handler is None:
        return problem(error.status_code, "error", str(error.detail), str(error.detail))
    response = handler(Request(scope), error)
    if inspect.isawaitable(response):
        response = await response
    assert isinstance(response, Response)
    return response
