"""Who is looking at a page: the session cookie, with the form's CSRF token on anything that changes data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from workflow.errors import Forbidden, NotAuthenticated
from workflow.services.access import Caller, require_admin
from workflow.web.deps import SESSION_COOKIE, ServicesDep

CSRF_FIELD = "csrf_token"


async def page_caller(request: Request, services: ServicesDep) -> Caller:
    """The signed-in person (a browser without a session is sent to the sign-in page)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = services.auth.session(cookie) if cookie else None
    if session is None:
        raise NotAuthenticated("sign in to see this page")
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        given = form.get(CSRF_FIELD)
        if not isinstance(given, str) or not services.auth.csrf_matches(session.csrf_token, given):
            raise Forbidden("this form has expired or did not come from this site; reload the page and try again")
    request.state.csrf_token = session.csrf_token
    return services.access.caller(session.user_id)


PageCaller = Annotated[Caller, Depends(page_caller)]


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
