"""The access log as `workflow serve` configures it: a calendar-feed request's line has no token, nor do a
provider's answer's code and state."""

from __future__ import annotations

import logging
import logging.config
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import uvicorn

from tests.serving import free_port
from workflow.cli.serve import log_config
from workflow.context import Services
from workflow.web.access_log import redact
from workflow.web.app import create_app


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines(org: Services) -> Iterator[tuple[str, Lines]]:
    before = logging.getLogger("uvicorn.access").filters[:]
    logging.config.dictConfig(log_config())
    lines = Lines()
    logging.getLogger("uvicorn.access").addHandler(lines)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(org.settings, services=org), host="127.0.0.1", port=port,
                                           log_config=None, access_log=True, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", lines
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        access = logging.getLogger("uvicorn.access")
        access.removeHandler(lines)
        access.filters[:] = before


def test_a_calendar_feed_request_is_logged_without_its_token(access_lines: tuple[str, Lines], org: Services) -> None:
    base, lines = access_lines
    token = org.auth.new_calendar_token(org.people.user_id("dean.business"))
    assert httpx.get(f"{base}/calendar/{token}.ics").status_code == 200
    assert httpx.get(f"{base}/login/oidc/none/callback?code=secret-code-123&state=secret-state-456").status_code \
        in (403, 404)
    logged = "\n".join(lines.lines)
    assert "GET /calendar/[redacted].ics" in logged
    assert token not in logged and "secret-code-123" not in logged and "secret-state-456" not in logged
    assert "code=[redacted]&state=[redacted]" in logged


def test_redaction_leaves_other_addresses_alone() -> None:
    assert redact("/approvals?sort=due&page=2") == "/approvals?sort=due&page=2"
    assert redact("/reset?token=abc&next=/") == "/reset?token=[redacted]&next=/"
