"""What the scheduler writes to the log: each firing at INFO (which timer, on which credential, what happened), and
nothing above DEBUG when a poll comes while the previous one is still running."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import settings_for
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.scheduler import Scheduler
from workflow.services.access import Caller
from workflow.services.timers import TimerService

TICKER = Path(__file__).parent / "ticker"
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def ticker(database_url: str, tmp_path: Path) -> Iterator[Services]:
    services = Services.start(settings_for(database_url, tmp_path, definitions_dir=TICKER), ManualClock(START))
    yield services
    services.close()


def test_each_firing_is_logged_at_info_with_timer_credential_and_result(
        ticker: Services, caplog: pytest.LogCaptureFixture) -> None:
    clock = ticker.clock
    assert isinstance(clock, ManualClock)
    first = ticker.credentials.create(definition="ticker", title="First", by=Caller.system("test"))
    second = ticker.credentials.create(definition="ticker", title="Second", by=Caller.system("test"))
    scheduler = Scheduler(ticker.timers)
    with caplog.at_level(logging.INFO, logger="workflow"):
        assert scheduler.tick() == 0  # nothing is due yet: nothing said
        assert not caplog.records
        clock.advance(timedelta(minutes=1))
        assert scheduler.tick() == 2
    timers = {t.credential_id: t.id for t in ticker.timers.listing(status="done")}
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("workflow.services.timers", "INFO",
         f"timer {timers[first]} (tick_due) on credential {first}: fired tick: waiting → ticked"),
        ("workflow.services.timers", "INFO",
         f"timer {timers[second]} (tick_due) on credential {second}: fired tick: waiting → ticked"),
        ("workflow.scheduler", "INFO", "handled 2 timer(s)"),
    ]


class _Heard(logging.Handler):
    """Sets an event when a record with any of ``words`` in it is logged."""

    def __init__(self, *words: str) -> None:
        super().__init__(logging.DEBUG)
        self.words = words
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if any(words in record.getMessage() for words in self.words):
            self.event.set()


def test_polls_during_a_long_run_are_skipped_quietly(ticker: Services, caplog: pytest.LogCaptureFixture) -> None:
    clock = ticker.clock
    assert isinstance(clock, ManualClock)
    ticker.credentials.create(definition="ticker", title="Slow", by=Caller.system("test"))
    clock.advance(timedelta(minutes=1))
    running, release = threading.Event(), threading.Event()

    def slow_fire(timer_id: int, owner: str) -> str:
        running.set()
        release.wait(30)  # held until the test has seen polls come and go meanwhile
        return ticker.credentials.run_timer(timer_id, owner)

    timers = TimerService(ticker.database, clock, slow_fire)
    scheduler = Scheduler(timers, interval=0.02)
    skipped = _Heard("poll skipped", "maximum number of running instances reached")  # ours, or APScheduler's
    logging.getLogger().addHandler(skipped)
    try:
        with caplog.at_level(logging.DEBUG, logger="workflow"), caplog.at_level(logging.DEBUG, logger="apscheduler"):
            scheduler.start()
            assert running.wait(30), "the first poll did not start"
            assert skipped.event.wait(30), "no poll came while the first one ran"
            release.set()
            scheduler.shutdown()
    finally:
        release.set()
        scheduler.shutdown()
        logging.getLogger().removeHandler(skipped)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any(r.levelno == logging.DEBUG and r.name == "workflow.scheduler" and "poll skipped" in r.getMessage()
               for r in caplog.records)
    assert any(r.levelno == logging.INFO and "(tick_due) on credential 1: fired tick" in r.getMessage()
               for r in caplog.records)
