"""Which methods a path allows, from the app's own routes: the ``Allow`` header of every 405 (RFC 9110 §15.5.6
lists them all, where Starlette names only the first route it finds for the path), and ``HEAD`` wherever ``GET``
is served (RFC 9110 §9.3.2: the same answer without its body)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _served(routes: Iterable[BaseRoute], scope: Scope, method: str) -> bool:
    probe = {**scope, "method": method}
    return any(route.matches(probe)[0] == Match.FULL for route in routes)


def allowed_methods(scope: Scope) -> list[str] | None:
    """The methods the request's path is served with, in :data:`METHODS` order (``HEAD`` with ``GET``); ``None``
    when something under the path takes every method (a mount, which answers a 405 itself)."""
    routes: list[BaseRoute] = scope["app"].router.routes
    allowed = {method for method in METHODS if _served(routes, scope, method)}
    if allowed == set(METHODS):
        return None
    if "GET" in allowed:
        allowed.add("HEAD")
    return [method for method in METHODS if method in allowed]


class HeadAsGet:
    """Answer ``HEAD`` as ``GET`` without the body, where only ``GET`` is routed for the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        routes: list[BaseRoute] = scope["app"].router.routes
        if _served(routes, scope, "HEAD") or not _served(routes, scope, "GET"):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        get: dict[str, Any] = {**scope, "method": "GET"}
        await self.app(get, receive, headers_only)
