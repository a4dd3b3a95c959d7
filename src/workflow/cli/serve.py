"""``workflow serve`` (the HTTP service) and ``workflow scheduler`` (timers on their own): the long-running
processes, which bring the schema up to date when they start."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from workflow.cli.errors import errors_to_exit
from workflow.cli.running import opened
from workflow.config import Settings
from workflow.context import Services
from workflow.errors import WorkflowError
from workflow.store.database import Database


@errors_to_exit
def scheduler(once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit.")] = False) -> None:
    """Fire due timers: now and then every WORKFLOW_TIMER_POLL_SECONDS, until stopped (Ctrl-C or SIGTERM)."""
    import logging.config
    import signal
    import threading

    from workflow.scheduler import Scheduler

    logging.config.dictConfig(log_config())  # what each timer did, at INFO, on stderr
    with opened(migrate=True) as services:
        runner = Scheduler(services.timers, interval=services.settings.timer_poll_seconds, digests=services.digests,
                           dispatcher=services.dispatcher, plans=services.plans, analytics=services.analytics)
        if once:
            typer.echo(f"handled {runner.tick()} timer(s)")
            return
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        runner.start()
        typer.echo(f"scheduler {services.timers.owner} polling every {runner.interval:g}s; Ctrl-C stops")
        stopped.wait()
        runner.shutdown()


@errors_to_exit
def serve(host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
          workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: WORKFLOW_WORKERS, "
                                                      "else 1 on SQLite and one per CPU on PostgreSQL).")] = None,
          ) -> None:
    """Run the HTTP service (API under /api/v1, docs at /docs) with uvicorn. SIGTERM or Ctrl-C stops it: no new
    connections, requests in flight finish (up to WORKFLOW_SHUTDOWN_SECONDS), then each worker's scheduler."""
    import os

    import uvicorn
    from sqlalchemy.engine import make_url

    settings = Settings()
    count = workers or settings.workers or settings.default_workers(os.cpu_count())
    if settings.is_sqlite and make_url(settings.effective_database_url).database in (None, "", ":memory:"):
        raise WorkflowError("an in-memory SQLite database lives and dies with one connection; serve a file "
                            "(WORKFLOW_DATA_DIR) or PostgreSQL (WORKFLOW_DATABASE_URL)")
    if settings.is_sqlite and count > 1:
        raise WorkflowError(f"{count} workers on SQLite: it takes one writer at a time, so more processes only wait "
                            "for each other's locks (approvals get slower, not faster); serve SQLite with one "
                            "worker, or move to PostgreSQL for more (README: Deployment)")
    services = Services.start(settings)  # migrate and check the definitions once, before any worker starts
    try:
        warning = connection_budget(services.database, settings, count)
    finally:
        services.close()
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    uvicorn.run("workflow.web.app:app_from_environment", factory=True, host=host or settings.host,
                port=port or settings.port, workers=count, proxy_headers=True, log_level="info",
                log_config=log_config(), timeout_graceful_shutdown=settings.shutdown_seconds)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the service's own loggers at INFO (each timer fired, mail health, refused rows)
    through the same handler, named."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["workflow"] = {"()": "uvicorn.logging.DefaultFormatter",
                                        "fmt": "%(levelprefix)s %(name)s: %(message)s", "use_colors": None}
    config["handlers"]["workflow"] = {"formatter": "workflow", "class": "logging.StreamHandler",
                                      "stream": "ext://sys.stderr"}
    config["loggers"]["workflow"] = {"handlers": ["workflow"], "level": "INFO", "propagate": False}
    # Calendar-feed tokens, reset tokens and the provider's codes never reach the access log.
    config.setdefault("filters", {})["redact_secrets"] = {"()": "workflow.web.access_log.RedactSecrets"}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_secrets"]
    return config


def connection_budget(database: Database, settings: Settings, workers: int) -> str | None:
    """A warning when ``workers`` processes could open more PostgreSQL connections than the server accepts."""
    if database.is_sqlite:
        return None
    from sqlalchemy import text

    with database.begin_read() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
        reserved = int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
    wanted = workers * settings.connections_per_process
    if wanted <= limit - reserved:
        return None
    return (f"{workers} worker(s) × {settings.connections_per_process} connections (3 × WORKFLOW_POOL_SIZE) = "
            f"{wanted}, more than the {limit - reserved} PostgreSQL accepts (max_connections {limit}); "
            "lower --workers or WORKFLOW_POOL_SIZE, or raise max_connections")
