"""Request dependencies: the services, and the signed-in caller (by session cookie or API token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from workflow.context import Services
from workflow.errors import Forbidden, NotAuthenticated
from workflow.services.access import Caller, require_admin
from workflow.services.auth import SIGNED_IN
from workflow.services.signin_log import Client

SESSION_COOKIE = "mcw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The two ways to sign a request, as the OpenAPI document declares them. They only describe: ``get_caller`` reads
# the header and the cookie itself and answers a missing or bad one with its own problem (401, 403).
API_TOKEN = HTTPBearer(scheme_name="apiToken", bearerFormat="mcw_…", auto_error=False,
                       description="A personal API token (POST /api/v1/tokens), sent as `Authorization: Bearer mcw_…`.")
SESSION = APIKeyCookie(name=SESSION_COOKIE, scheme_name="session", auto_error=False,
                       description="The browser session from POST /api/v1/auth/login. A request that changes "
                                   f"anything also sends the session's CSRF token in the {CSRF_HEADER} header.")


def get_services(request: Request) -> Services:
    """The services built for this app."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_of(request: Request) -> Client:
    """Where a request came from, for the sign-in log."""
    return Client(request.client.host if request.client else "", request.headers.get("user-agent", "")[:300])


def get_caller(request: Request, services: ServicesDep,
               _token: Annotated[HTTPAuthorizationCredentials | None, Security(API_TOKEN)],
               _session: Annotated[str | None, Security(SESSION)]) -> Caller:
    """The caller: a bearer API token, or a session cookie (with its CSRF token on anything that changes data)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        user_id = (services.auth.token_user(token.strip(), client=client_of(request))
                   if scheme.lower() == "bearer" else None)
        if user_id is None:
            raise NotAuthenticated("the API token is not valid (revoked, expired or mistyped)")
        return services.access.caller(user_id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = services.auth.session(cookie)
        if session is None:
            raise NotAuthenticated("your session has ended; sign in again")
        if session.stage != SIGNED_IN:
            raise NotAuthenticated("finish signing in first (your second factor is needed)")
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
