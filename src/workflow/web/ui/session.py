"""Who is looking at a page: the session cookie, with the form's CSRF token on anything that changes data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from workflow.errors import Forbidden, NotAuthenticated, WorkflowError
from workflow.services.access import Caller, require_admin
from workflow.services.auth import ENROL, SECOND_FACTOR, SIGNED_IN, SessionInfo
from workflow.web.deps import SESSION_COOKIE, ServicesDep

CSRF_FIELD = "csrf_token"
SECOND_FACTOR_PAGE = "/login/second-factor"
ENROL_PAGE = "/account/second-factor"


class StepFirst(WorkflowError):
    """The session is half open: the browser is sent to ``page`` (the second factor, or its enrolment) first."""

    def __init__(self, page: str) -> None:
        self.page = page
        super().__init__(f"go to {page} first")


async def _session(request: Request, services: ServicesDep, *, stages: tuple[str, ...]) -> SessionInfo:
    cookie = request.cookies.get(SESSION_COOKIE)
    session = services.auth.session(cookie) if cookie else None
    if session is None:
        raise NotAuthenticated("sign in to see this page")
    if session.stage not in stages:
        raise StepFirst(SECOND_FACTOR_PAGE if session.stage == SECOND_FACTOR else ENROL_PAGE)
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        given = form.get(CSRF_FIELD)
        if not isinstance(given, str) or not services.auth.csrf_matches(session.csrf_token, given):
            raise Forbidden("this form has expired or did not come from this site; reload the page and try again")
    request.state.csrf_token = session.csrf_token
    request.state.session = session
    return session


async def page_caller(request: Request, services: ServicesDep) -> Caller:
    """The signed-in person (a browser without a session is sent to the sign-in page; one whose second factor is
    still owed, to give or set it up)."""
    session = await _session(request, services, stages=(SIGNED_IN,))
    return services.access.caller(session.user_id)


async def enrolling_caller(request: Request, services: ServicesDep) -> Caller:
    """The person, also while their session waits for them to set up a second factor (the enrolment page)."""
    session = await _session(request, services, stages=(SIGNED_IN, ENROL))
    return services.access.caller(session.user_id)


PageCaller = Annotated[Caller, Depends(page_caller)]
EnrollingCaller = Annotated[Caller, Depends(enrolling_caller)]


def admin_page(what: str) -> Callable[[Caller], Caller]:
    """A dependency: the signed-in person if they are an administrator, else ``Forbidden("only an administrator
    may <what>")``."""
    def administrator(caller: PageCaller) -> Caller:
        require_admin(caller, what)
        return caller
    return administrator


AdminPageCaller = Annotated[Caller, Depends(admin_page("open the administration pages"))]


def same_site(target: str, fallback: str = "/") -> str:
    """``target`` if it is a path on this site (what a form may send a browser on to), else ``fallback``."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 500
    return target if ok else fallback
