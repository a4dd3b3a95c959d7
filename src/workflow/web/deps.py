"""Request dependencies: the services, and the signed-in caller (by session cookie or API token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from workflow.context import Services
from workflow.errors import Forbidden, NotAuthenticated
from workflow.services.access import Caller, require_admin

SESSION_COOKIE = "mcw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    """The services built for this app."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(request: Request, services: ServicesDep) -> Caller:
    """The caller: a bearer API token, or a session cookie (with its CSRF token on anything that changes data)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        user_id = services.auth.token_user(token.strip()) if scheme.lower() == "bearer" else None
        if user_id is None:
            raise NotAuthenticated("the API token is not valid (revoked, expired or mistyped)")
        return services.access.caller(user_id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = services.auth.session(cookie)
        if session is None:
            raise NotAuthenticated("your session has ended; sign in again")
        if request.method not in SAFE_METHODS and not services.auth.csrf_matches(
                session.csrf_token, request.headers.get(CSRF_HEADER)):
            raise Forbidden(f"the {CSRF_HEADER} header is missing or does not match your session")
        request.state.csrf_token = session.csrf_token
        return services.access.caller(session.user_id)
    raise NotAuthenticated()


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def admin_only(what: str) -> Callable[[Caller], Caller]:
    """A dependency: the caller if they are an administrator, else ``Forbidden("only an administrator may
    <what>")`` (the same refusal the services give)."""
    def administrator(caller: CurrentCaller) -> Caller:
        require_admin(caller, what)
        return caller
    return administrator


AdminCaller = Annotated[Caller, Depends(admin_only("do this"))]
