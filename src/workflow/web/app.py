"""The FastAPI application, built from settings (``create_app(settings)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from workflow import __version__
from workflow.clock import Clock
from workflow.config import Settings
from workflow.context import Services
from workflow.scheduler import Scheduler
from workflow.web import problems
from workflow.web.api import (
    admin,
    analytics,
    auth,
    credentials,
    evidence,
    me,
    outbox,
    pathways,
    plans,
    publication,
    timers,
)
from workflow.web.deps import get_caller
from workflow.web.limits import BodyLimit
from workflow.web.methods import HeadAsGet
from workflow.web.security import SecurityHeaders
from workflow.web.ui import (
    account,
    account_security,
    approvals,
    calendar,
    credential,
    decision,
    evidence_pages,
    pages,
    portfolio,
    signin,
    start,
    tasks,
    team,
)
from workflow.web.ui import admin as admin_pages
from workflow.web.ui import analytics as analytics_pages
from workflow.web.ui import pathways as pathway_pages
from workflow.web.ui import plans as plan_pages
from workflow.web.ui import publication as publication_pages
from workflow.web.ui.dot_layout import Layouts
from workflow.web.ui.render import error_page
from workflow.web.ui.session import StepFirst

API_PREFIX = "/api/v1"
# Beside the file, a multipart body holds boundaries, headers and small fields; the margin is wide enough that the
# upload's own check (the file's first chunk past its limit, with a problem naming the field) always answers before
# the body limit does, however large the chunks the server is handed at once. Memory stays bounded by the chunk.
UPLOAD_OVERHEAD = 8 * 1_048_576
STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, clock: Clock | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. Pass ``services`` to share ones already started (tests); otherwise they start with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.start(settings, clock)
        started = app.state.services
        scheduler = Scheduler(started.timers, interval=settings.timer_poll_seconds, digests=started.digests,
                              dispatcher=started.dispatcher, plans=started.plans,
                              analytics=started.analytics) if settings.scheduler_in_app else None
        app.state.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
            if owned:
                app.state.services.close()

    app = FastAPI(title="Micro-credential workflow", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None, description=(
                      "Instants (`…_at`) are UTC. Date-only values — delegation days (`starts_on`, `ends_on`), "
                      "due dates and credential fields of type date such as a hard expiry date — are calendar days "
                      f"in the institution's time zone ({settings.timezone}): a day runs from local midnight to "
                      "local midnight, and a timer at a date is due at the local midnight that starts it."))
    if services is not None:
        app.state.services = services
    app.state.layouts = Layouts(settings.graphviz_dot)
    problems.install(app, html=error_page)

    @app.exception_handler(StepFirst)
    def step_first(_request: Any, step: StepFirst) -> RedirectResponse:
        """A half-open session goes to give (or set up) its second factor first."""
        return RedirectResponse(step.page, status_code=303)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth.router)
    for module in (credentials, evidence, plans, publication, pathways, analytics, me, timers, outbox, admin):
        api.include_router(module.router, dependencies=[Depends(get_caller)])
    app.include_router(api)
    for page_module in (pages, signin, account_security, approvals, tasks, portfolio, plan_pages, decision, start,
                        team, publication_pages, pathway_pages, analytics_pages, credential, evidence_pages,
                        admin_pages, account):
        app.include_router(page_module.router)
    app.include_router(calendar.router)
    # Public files only (vendored libraries, style sheets): no data is ever served from here.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    # The API's description holds no data: anyone may read it (and sign in from it).
    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="Micro-credential workflow — API",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs.css", swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"deepLinking": False})  # no links inside buttons
        html = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)
        return HTMLResponse(html)

    app.add_middleware(HeadAsGet)
    upload_limit = settings.evidence_max_bytes + UPLOAD_OVERHEAD  # the file's own limit is checked as it streams
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       wider={r"(/api/v1)?/credentials/\d+/evidence/[^/]+": upload_limit})
    # The docs page never changes, so the hash of its inline script is taken once, here.
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure, docs_page=bytes(docs().body).decode())
    return app


def app_from_environment() -> FastAPI:
    """The app as ``workflow serve`` runs it: settings from the environment."""
    return create_app(Settings())


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document (for tests and tooling)."""
    return app.openapi()
